package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/** How fmsmo writes outputs: whole or not at all (temporary name, then an atomic rename), and cleans up after itself. */
public final class OutputFiles {

    private OutputFiles() {
    }

    /** A hidden temporary sibling of {@code target}, unique to this process and moment. */
    public static Path temporarySibling(Path target) {
        return target.toAbsolutePath().resolveSibling("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime());
    }

    /**
     * Removes the {@link #temporarySibling}s of {@code target} left by processes that no longer
     * run (killed before they could clean up); those of live processes are left alone.
     *
     * @param removed told the path of each folder removed
     */
    public static void removeDeadTemporaries(Path target, java.util.function.Consumer<Path> removed) {
        Path t = target.toAbsolutePath().normalize();
        java.util.regex.Pattern mine = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote("." + t.getFileName() + ".tmp-") + "(\\d+)-\\d+");
        if (!Files.isDirectory(t.getParent())) {
            return;
        }
        try (Stream<Path> siblings = Files.list(t.getParent())) {
            for (Path p : siblings.toList()) {
                java.util.regex.Matcher m = mine.matcher(p.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).map(h -> !h.isAlive()).orElse(true)) {
                    deleteTree(p);
                    removed.accept(p);
                }
            }
        } catch (IOException | NumberFormatException ignored) {
            // best effort: a leftover is hidden and never mistaken for an output
        }
    }

    /** Writes a text file atomically, replacing an existing one. */
    public static void writeString(Path file, String text) {
        Path tmp = temporarySibling(file);
        try {
            Files.writeString(tmp, text);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            deleteTree(tmp);
        }
    }

    /** Deletes a file or folder tree, best effort: a leftover hidden temporary is never mistaken for an output. */
    public static void deleteTree(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }
}
