package org.fmsmo.core.pipeline;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.core.io.OutputFiles;

/**
 * What a streamed run keeps inside its partial output folder so that, killed at any point (kill
 * -9, power loss) and started again with the same arguments, it continues after its last finished
 * block and writes the same bytes as a run that was never stopped.
 *
 * <p>Three files in {@value #DIR}: {@code run.json}, the arguments that decide the output (a run
 * with other arguments starts over); {@code checkpoint.json}, after each finished block, the shard
 * writer's position, the format's state, the report so far and the name of the file holding the
 * hidden states at the next block boundary; and {@code lock}, locked for the run's life, so that a
 * live run is told from a dead one (the operating system drops the lock of a killed process).
 * Everything a checkpoint names is on the disk before the checkpoint is renamed into place.
 */
final class RunJournal implements AutoCloseable {

    static final String DIR = ".fmsmo-run";
    private static final String LOCK = "lock";
    private static final String RUN = "run.json";
    private static final String CHECKPOINT = "checkpoint.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The state after {@code blocksDone} finished blocks. */
    record Checkpoint(int blocksDone, Map<String, Object> writer, Map<String, Object> format, List<QuantReport.LayerResult> layers,
                      Map<String, String> skipped, int bmms, Map<String, Double> seconds, Path hidden, List<LayerProfile> worst) {
    }

    private final Path dir;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private RunJournal(Path dir, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /** The hidden folder a streamed run to {@code target} writes into; the same for every run to that target, so a later one finds it. */
    static Path partialFolder(Path target) {
        Path t = target.toAbsolutePath().normalize();
        return t.resolveSibling("." + t.getFileName() + ".fmsmo-partial");
    }

    /**
     * Takes over {@code partial} for a run with {@code fingerprint}: a dead run's folder with the same
     * fingerprint is kept (and its checkpoint returned by {@link #checkpoint}), any other is emptied.
     *
     * @param notes told when a dead run's folder is removed
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when a live run is writing there
     */
    static RunJournal open(Path partial, Map<String, Object> fingerprint, java.util.function.Consumer<String> notes) {
        JsonNode wanted = tree(fingerprint);
        Path dir = partial.resolve(DIR);
        try {
            if (Files.exists(partial)) {
                RunJournal old = Files.isDirectory(dir) ? lock(partial, dir) : null;
                boolean same = old != null && Files.isRegularFile(dir.resolve(RUN)) && wanted.equals(JSON.readTree(dir.resolve(RUN).toFile()));
                if (same) {
                    return old;
                }
                if (old != null) {
                    old.close();
                }
                notes.accept("removed " + partial + ", the partial output of a dead run " + (old == null ? "that cannot be resumed"
                        : "with other arguments"));
                OutputFiles.deleteTree(partial);
            }
            Files.createDirectories(dir);
            RunJournal j = lock(partial, dir);
            OutputFiles.writeString(dir.resolve(RUN), wanted.toPrettyString());
            return j;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot prepare " + partial + ": " + e.getMessage(), e);
        }
    }

    private static RunJournal lock(Path partial, Path dir) throws IOException {
        FileChannel c = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = c.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null; // this process holds it
        }
        if (l == null) {
            c.close();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "another run is writing this output (" + partial
                    + " is locked); wait for it to end or stop it");
        }
        return new RunJournal(dir, c, l);
    }

    /** The last finished block's state, or null when no block finished (or the checkpoint is unreadable: the run starts over). */
    Checkpoint checkpoint() {
        Path file = dir.resolve(CHECKPOINT);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            Map<String, Object> c = JSON.readValue(file.toFile(), new TypeReference<>() {
            });
            List<QuantReport.LayerResult> layers = new ArrayList<>();
            for (Object o : (List<?>) c.get("layers")) {
                Map<?, ?> l = (Map<?, ?>) o;
                Map<String, Double> metrics = new LinkedHashMap<>();
                ((Map<?, ?>) l.get("metrics")).forEach((k, v) -> metrics.put(k.toString(), number(v)));
                layers.add(new QuantReport.LayerResult((String) l.get("name"), QuantSpec.parse((String) l.get("spec")), metrics));
            }
            Map<String, Double> seconds = new LinkedHashMap<>();
            ((Map<?, ?>) c.get("seconds")).forEach((k, v) -> seconds.put(k.toString(), number(v)));
            @SuppressWarnings("unchecked")
            Map<String, Object> writer = (Map<String, Object>) c.get("writer");
            @SuppressWarnings("unchecked")
            Map<String, Object> format = (Map<String, Object>) c.get("format");
            String hidden = (String) c.get("hidden");
            Map<String, String> skipped = new LinkedHashMap<>();
            ((Map<?, ?>) c.get("skipped")).forEach((k, v) -> skipped.put(k.toString(), v.toString()));
            List<LayerProfile> worst = new ArrayList<>();
            for (Object o : (List<?>) c.get("worst")) {
                worst.add(profile((Map<?, ?>) o));
            }
            return new Checkpoint(((Number) c.get("blocks_done")).intValue(), writer, format, layers, skipped,
                    ((Number) c.get("bmms")).intValue(), seconds, hidden == null ? null : dir.resolve(hidden), worst);
        } catch (IOException | RuntimeException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": the saved state of an earlier run cannot be read (" + e.getMessage()
                    + "); remove " + dir.getParent() + " to start over", e);
        }
    }

    private static Map<String, Object> profile(LayerProfile p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", p.name());
        m.put("metric", p.metric());
        m.put("error", p.error());
        m.put("input_abs_max", p.inputAbsMax());
        LayerProfile.Histogram h = p.weights();
        m.put("weights", h == null ? null : Map.of("min", h.min(), "max", h.max(), "before", h.before(), "after", h.after()));
        return m;
    }

    private static LayerProfile profile(Map<?, ?> m) {
        List<?> in = (List<?>) m.get("input_abs_max");
        float[] ranges = null;
        if (in != null) {
            ranges = new float[in.size()];
            for (int i = 0; i < ranges.length; i++) {
                ranges[i] = (float) number(in.get(i));
            }
        }
        Map<?, ?> h = (Map<?, ?>) m.get("weights");
        LayerProfile.Histogram weights = h == null ? null : new LayerProfile.Histogram(number(h.get("min")), number(h.get("max")),
                counts((List<?>) h.get("before")), counts((List<?>) h.get("after")));
        return new LayerProfile((String) m.get("name"), (String) m.get("metric"), number(m.get("error")), ranges, weights);
    }

    private static long[] counts(List<?> list) {
        return list.stream().mapToLong(v -> ((Number) v).longValue()).toArray();
    }

    /** The journal's folder (removed before the output is committed). */
    Path dir() {
        return dir;
    }

    /** Where the hidden states after {@code blocksDone} blocks are saved. */
    Path hiddenFile(int blocksDone) {
        return dir.resolve(String.format("hidden-%05d.safetensors", blocksDone));
    }

    /** Records a finished block; the files it names must already be on the disk. The previous hidden states are then removed. */
    void save(Checkpoint c) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("blocks_done", c.blocksDone());
        out.put("writer", c.writer());
        out.put("format", c.format());
        List<Map<String, Object>> layers = new ArrayList<>();
        for (QuantReport.LayerResult l : c.layers()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", l.name());
            m.put("spec", l.spec().toString());
            m.put("metrics", l.metrics());
            layers.add(m);
        }
        out.put("layers", layers);
        out.put("skipped", c.skipped());
        out.put("worst", c.worst().stream().map(RunJournal::profile).toList());
        out.put("bmms", c.bmms());
        out.put("seconds", c.seconds());
        out.put("hidden", c.hidden() == null ? null : c.hidden().getFileName().toString());
        Path file = dir.resolve(CHECKPOINT);
        Path tmp = dir.resolve(CHECKPOINT + ".new");
        try {
            Files.write(tmp, JSON.writeValueAsBytes(out));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    if (p.getFileName().toString().startsWith("hidden-") && !p.equals(c.hidden())) {
                        Files.delete(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Removes the journal from the finished folder (before it is renamed into place). */
    void discard() {
        close();
        OutputFiles.deleteTree(dir);
    }

    /** Releases the lock; the files stay for a later run. */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            lockChannel.close();
        } catch (IOException ignored) {
            // the lock goes with the channel
        }
    }

    /** A saved double: JSON writes NaN and the infinities as strings. */
    private static double number(Object v) {
        return v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString());
    }

    private static JsonNode tree(Map<String, Object> fingerprint) {
        try {
            return JSON.readTree(JSON.writeValueAsString(fingerprint)); // through text, so numbers compare as read back
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
