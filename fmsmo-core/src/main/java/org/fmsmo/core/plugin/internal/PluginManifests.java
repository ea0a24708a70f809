package org.fmsmo.core.plugin.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    /** More than any descriptor, service file or extension index holds: beyond it an entry is not what it claims. */
    static final long MAX_METADATA_BYTES = 1 << 20;

    /**
     * Checks, before PF4J or the JDK reads them whole, that the metadata entries of a plugin's jars
     * ({@code META-INF/MANIFEST.MF}, {@code META-INF/services/*}, {@code META-INF/extensions.idx},
     * {@code plugin.properties}) are at most {@link #MAX_METADATA_BYTES} each when unpacked. A
     * jar whose entry unpacks to gigabytes (a zip bomb, or a damaged jar) otherwise ends every
     * command with an OutOfMemoryError in the plugin manager. Sizes are counted while reading,
     * since the sizes a zip header declares can lie.
     *
     * @param pluginPath a jar, or a plugin folder of jars
     * @throws FmsmoException {@link ErrorCode#PLUGIN_LOAD_FAILED} naming the jar and the entry
     */
    public static void checkMetadataSizes(Path pluginPath) {
        List<Path> jars;
        if (Files.isDirectory(pluginPath)) {
            try (var s = Files.walk(pluginPath)) {
                jars = s.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p)).toList();
            } catch (IOException e) {
                throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "cannot list " + pluginPath + ": " + e.getMessage(), e);
            }
        } else {
            jars = List.of(pluginPath);
        }
        byte[] buffer = new byte[1 << 16];
        for (Path jar : jars) {
            try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(jar.toFile())) {
                for (var entries = zip.entries(); entries.hasMoreElements(); ) {
                    java.util.zip.ZipEntry e = entries.nextElement();
                    if (!isMetadata(e.getName())) {
                        continue;
                    }
                    long total = 0;
                    try (InputStream in = zip.getInputStream(e)) {
                        for (int n; (n = in.read(buffer)) > 0 && total <= MAX_METADATA_BYTES; ) {
                            total += n;
                        }
                    }
                    if (total > MAX_METADATA_BYTES) {
                        throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, jar + ": entry " + e.getName() + " unpacks to over "
                                + MAX_METADATA_BYTES + " bytes; a plugin's descriptor and service files are a few lines (a damaged jar, or a zip bomb?)");
                    }
                }
            } catch (IOException e) {
                throw new FmsmoException(ErrorCode.PLUGIN_LOAD_FAILED, "not a readable jar: " + jar + " ("
                        + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", e);
            }
        }
    }

    private static boolean isMetadata(String entry) {
        String name = entry.toUpperCase(java.util.Locale.ROOT);
        return name.equals("META-INF/MANIFEST.MF") || name.startsWith("META-INF/SERVICES/") || name.equals("META-INF/EXTENSIONS.IDX")
                || name.equals("PLUGIN.PROPERTIES");
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
