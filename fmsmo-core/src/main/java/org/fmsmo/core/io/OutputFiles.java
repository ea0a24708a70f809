package org.fmsmo.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/** How fmsmo writes outputs: whole or not at all (temporary name, then an atomic rename), and cleans up after itself. */
public final class OutputFiles {

    /** Temporaries this process is writing, until committed or deleted: an interrupted run removes them ({@link #interrupted}). */
    private static final Set<Path> WRITING = ConcurrentHashMap.newKeySet();
    /** Partial outputs a later run with the same arguments continues: an interrupted run keeps them. */
    private static final Set<Path> RESUMABLE = ConcurrentHashMap.newKeySet();

    /** Outputs this process has committed (renamed into place): an interruption after that reports them whole. */
    private static final Set<Path> COMMITTED = ConcurrentHashMap.newKeySet();
    /** Orders a commit and an interruption: one of them happens wholly first. */
    private static final Object COMMIT = new Object();

    /** Set by {@link #interrupted}: from then on no new temporary is started and nothing is committed. */
    private static volatile boolean stopping;

    private OutputFiles() {
    }

    /** Whether SIGINT or SIGTERM has arrived and {@link #interrupted} is removing this process's temporaries. */
    public static boolean stopping() {
        return stopping;
    }

    /**
     * A hidden temporary sibling of {@code target}, unique to this process and moment. It counts as
     * being written until {@link #deleteTree} is called on it (after a successful rename, that is a
     * no-op that only ends the count).
     */
    public static Path temporarySibling(Path target) {
        if (stopping) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "interrupted: no new output is started after SIGINT or SIGTERM");
        }
        Path p = target.toAbsolutePath().resolveSibling("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime());
        WRITING.add(p);
        return p;
    }

    /** Marks a folder this process writes and removes at the end ({@link #deleteTree}), so an interruption removes it too. */
    public static Path writing(Path folder) {
        WRITING.add(folder);
        return folder;
    }

    /** Marks {@code partial} as a resumable partial output while {@code inFlight}, so an interruption keeps it and says so. */
    public static void resumable(Path partial, boolean inFlight) {
        if (inFlight) {
            RESUMABLE.add(partial);
        } else {
            RESUMABLE.remove(partial);
        }
    }

    /**
     * After SIGINT or SIGTERM (called from the command line's shutdown hook, while the work may
     * still be running): removes the temporaries being written and says what happened to each
     * output in flight, one clause per output; empty when nothing was being written.
     */
    public static List<String> interrupted() {
        synchronized (COMMIT) {
            stopping = true; // a commit in progress has finished; none starts after this
        }
        List<String> said = new ArrayList<>();
        for (Path p : List.copyOf(COMMITTED)) {
            if (Files.exists(p)) {
                said.add(p + " had been written whole before the interruption");
            }
        }
        for (Path p : List.copyOf(WRITING)) {
            removeWhileWritten(p);
            said.add("removed the unfinished " + p);
        }
        for (Path p : List.copyOf(RESUMABLE)) {
            said.add("kept the partial output in " + p + " (run the same command again to go on after its last finished block)");
        }
        return said;
    }

    /**
     * Deletes {@code p}, again and again while the work, still running until the JVM halts, goes on
     * writing into it (a file it was creating reappears): until it has stayed absent for 150 ms, at
     * most 2 s.
     */
    private static void removeWhileWritten(Path p) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        int absent = 0;
        while (absent < 3 && System.nanoTime() < deadline) {
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(p);
                absent = 0;
            } else {
                absent++;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
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

    /**
     * Renames a finished temporary into place, atomically, unless an interruption came first
     * ({@link ErrorCode#IO_ERROR} then): an interrupted run reports either a whole output or none.
     *
     * @param replace an existing {@code target} is replaced (a file); otherwise the move fails when it exists
     */
    public static void commit(Path tmp, Path target, boolean replace) throws IOException {
        synchronized (COMMIT) {
            if (stopping) {
                throw new FmsmoException(ErrorCode.IO_ERROR, "interrupted before " + target + " was written");
            }
            if (replace) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
            COMMITTED.add(target.toAbsolutePath());
        }
    }

    /** Writes a file atomically, replacing an existing one. */
    public static void write(Path file, byte[] bytes) {
        Path tmp = temporarySibling(file);
        try {
            Files.write(tmp, bytes);
            commit(tmp, file, true);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            deleteTree(tmp);
        }
    }

    /** Writes a text file atomically, replacing an existing one. */
    public static void writeString(Path file, String text) {
        write(file, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Deletes a file or folder tree, best effort: a leftover hidden temporary is never mistaken for an output. */
    public static void deleteTree(Path path) {
        try {
            if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            try (Stream<Path> walk = Files.walk(path)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException | java.io.UncheckedIOException ignored) {
                // best effort
            }
        } finally {
            WRITING.remove(path);
        }
    }
}
