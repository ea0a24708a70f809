package org.fmsmo.core.plugin.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.PluginDescriptor;

/** Reads plugin descriptors from jars and class folders. */
public final class PluginManifests {

    private PluginManifests() {
    }

    /**
     * The descriptor of a jar, or of a class folder's {@code META-INF/MANIFEST.MF}.
     *
     * @throws FmsmoException {@link ErrorCode#PLUGIN_LOAD_FAILED} when the file is not a readable
     *         jar or has no (valid) descriptor; the message names the file
     */
    public static PluginDescriptor read(Path location) {
        return PluginDescriptor.fromManifest(manifest(location), location.toString());
    }

    /** The manifest of a jar or class folder. */
    public static Manifest manifest(Path location) {
        if (Files.isDirectory(location)) {
            Path mf = location.resolve("META-INF/MANIFEST.MF");
            if (!Files.isRegularFile(mf)) {
                throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "no plugin descriptor in " + location
                        + ": expected META-INF/MANIFEST.MF with Plugin-Id, Plugin-Version, Plugin-Requires");
            }
            try (InputStream in = Files.newInputStream(mf)) {
                return new Manifest(in);
            } catch (IOException e) {
                throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "cannot read " + mf + ": " + e.getMessage(), e);
            }
        }
        try (JarFile jar = new JarFile(location.toFile())) {
            Manifest m = jar.getManifest();
            if (m == null) {
                throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "no plugin descriptor in " + location
                        + ": the jar has no META-INF/MANIFEST.MF (expected Plugin-Id, Plugin-Version, Plugin-Requires)");
            }
            return m;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "not a readable jar: " + location + " ("
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
        }
    }
}
