package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The rules for a command's output folder, checked before any work: never the input folder or
 * inside it; an existing non-empty folder only with {@code --force}, and then the new folder is
 * written beside it and swapped in when complete, so a failed run leaves the old one intact.
 */
public final class OutputFolder {

    private OutputFolder() {
    }

    /**
     * Validates {@code output} and returns the folder to write into (itself, or a fresh sibling
     * under --force). The overlap test compares real paths, so a symbolic link (or {@code ..}
     * through one) into the input folder is caught; and a probe file is written where the output
     * will go, so that a read-only or impossible location fails now, not after the run.
     */
    public static Path check(Path input, Path output, boolean force) {
        Path in = realPath(input);
        Path out = realPath(output);
        if (out.equals(in) || out.startsWith(in) || in.startsWith(out)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output folder " + output + " overlaps the input folder " + input
                    + (out.equals(output.toAbsolutePath().normalize()) ? "" : " (it resolves to " + out + ")")
                    + "; inputs are never written: choose another output");
        }
        checkWritable(output, out.getParent());
        if (!Files.exists(out)) {
            return out;
        }
        if (!Files.isDirectory(out)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output " + output + " exists and is a file, not a folder");
        }
        try (Stream<Path> entries = Files.list(out)) {
            if (entries.findAny().isEmpty()) {
                Files.delete(out);
                return out;
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read output folder " + output + ": " + e.getMessage(), e);
        }
        if (!force) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output folder " + output + " exists and is not empty; choose a new one or pass --force");
        }
        return out.resolveSibling(out.getFileName() + ".fmsmo-new");
    }

    /**
     * The absolute path with every symbolic link resolved, also for a path that does not exist
     * yet: its deepest existing ancestor is resolved and the rest appended.
     */
    static Path realPath(Path path) {
        Path p = path.toAbsolutePath().normalize();
        Path existing = deepestExisting(p);
        if (existing == null) {
            return p;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(p)).normalize();
        } catch (IOException e) {
            return p;
        }
    }

    /**
     * Writes (and deletes) a probe file in {@code parent}, or in its deepest existing ancestor
     * when it is still to be created: what the run's folders and final rename will need.
     */
    private static void checkWritable(Path output, Path parent) {
        Path existing = deepestExisting(parent);
        try {
            if (existing == null || !Files.isDirectory(existing)) {
                throw new IOException(existing + " is not a folder");
            }
            Path probe = Files.createTempFile(existing, ".fmsmo-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the output " + output + ": its folder " + parent + " cannot be written ("
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        }
    }

    /** {@code path} itself or its nearest ancestor that exists; null when none does. */
    private static Path deepestExisting(Path path) {
        Path p = path;
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        return p;
    }

    /** Moves a --force run's finished folder over the old one. */
    public static Path replace(Path output, Path target, Path written) throws IOException {
        Path out = output.toAbsolutePath().normalize();
        if (written.equals(out)) {
            return out;
        }
        Path old = out.resolveSibling(out.getFileName() + ".fmsmo-old");
        Files.move(out, old, StandardCopyOption.ATOMIC_MOVE);
        try {
            OutputFiles.commit(written, out, false);
        } catch (FmsmoException e) {
            Files.move(old, out, StandardCopyOption.ATOMIC_MOVE); // interrupted: the old output stays
            throw e;
        }
        try (Stream<Path> walk = Files.walk(old)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        return out;
    }

    /** Bytes of the safetensors files in a folder. */
    public static long weightBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            long total = 0;
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList()) {
                total += Files.size(f);
            }
            return total;
        }
    }
}
