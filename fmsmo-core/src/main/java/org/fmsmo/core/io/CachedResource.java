package org.fmsmo.core.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A text resource of fmsmo's jars as a file, for code that reads files (the calibration and
 * evaluation loaders): copied once into the cache folder ({@code fmsmo.cache}, by default
 * {@code ~/.cache/fmsmo}), atomically, so concurrent runs never see half a file.
 */
public final class CachedResource {

    private CachedResource() {
    }

    /** The cache root: the {@code fmsmo.cache} property, or {@code ~/.cache/fmsmo}. */
    public static Path cacheRoot() {
        String cache = System.getProperty("fmsmo.cache");
        return cache != null ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "fmsmo");
    }

    /**
     * The resource {@code name} next to {@code owner}'s class, as the file {@code cached} under the cache root.
     *
     * @throws IllegalStateException when the resource is missing from the jar (a build defect)
     */
    public static Path file(Class<?> owner, String name, String cached) {
        Path file = cacheRoot().resolve(cached);
        if (Files.isRegularFile(file)) {
            return file;
        }
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from " + owner.getModule().getName());
            }
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
