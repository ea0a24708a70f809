package org.fmsmo.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Properties;

/**
 * The PTX and cubins the build put into this jar ({@code src/main/cuda/build-kernels.sh}), and
 * {@code kernels.properties}, which says whether nvcc ran and, if not, why there are none.
 */
final class Kernels {

    private Kernels() {
    }

    /** Why no kernels are usable, or empty when they were built. */
    static Optional<String> missing() {
        Properties p = properties();
        if (p == null) {
            return Optional.of("no kernels built: kernels.properties is missing from the kernels-cuda jar");
        }
        if (!"built".equals(p.getProperty("status"))) {
            return Optional.of(p.getProperty("reason", "no kernels built"));
        }
        return Optional.empty();
    }

    /** What built them ({@code release 13.0}), for diagnostics. */
    static String builtWith() {
        Properties p = properties();
        return p == null ? "unknown" : p.getProperty("nvcc", "unknown");
    }

    private static Properties properties() {
        try (InputStream in = Kernels.class.getResourceAsStream("kernels.properties")) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether the jar holds this kernel file. */
    static boolean has(String file) {
        return Kernels.class.getResource(file) != null;
    }

    /** A cubin's bytes. */
    static byte[] bytes(String file) {
        try (InputStream in = Kernels.class.getResourceAsStream(file)) {
            if (in == null) {
                throw new IllegalStateException(file + " is missing from the kernels-cuda jar although kernels.properties says built");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One PTX file's text. */
    static String ptx(String file) {
        try (InputStream in = Kernels.class.getResourceAsStream(file)) {
            if (in == null) {
                throw new IllegalStateException(file + " is missing from the kernels-cuda jar although kernels.properties says built");
            }
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
