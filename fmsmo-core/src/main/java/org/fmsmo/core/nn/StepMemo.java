package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.fmsmo.api.model.LinearLayer;

/**
 * Remembers, per calibration batch, the outputs of the forward steps ({@link Module#step}) of one
 * block that can no longer change, so that the block's later passes over the same batches skip
 * them. GPTQ quantizes a block stage by stage and re-runs the block for each stage; once q, k, v
 * and o are frozen, the attention half of every later pass is the same, and once gate and up are,
 * so is the MLP's product. At 8B shapes that is most of a block's forward work.
 *
 * <p>A step's output is a function of the batch's block input and of the linear layers that ran
 * before and inside it. A step is recorded only when every one of those layers is settled (the
 * installer's predicate: frozen, or never to be quantized), and replayed only when the layers
 * before it are the same objects as when it was recorded and those inside it still sit in their
 * slots. Anything else that changes a block (smoothing a norm in place) must {@link #clear} it.
 * Callers must not modify a step's output in place: a replayed output shares the stored one's
 * memory. Kept in files, the memo costs a block's passes disk instead of memory: at 8B shapes
 * and 16,384 calibration tokens the MLP's product alone is 0.94 GB.
 *
 * <p>Not thread-safe: one pass at a time, on one thread.
 */
public final class StepMemo implements AutoCloseable {

    private record Ran(Module owner, String slot, LinearLayer layer) {
        boolean inPlace() {
            return owner.slot(slot) == layer;
        }
    }

    /** A stored FLOAT32 output: in memory, or (output null) in {@code file}. */
    private record Entry(NDArray output, Path file, Shape shape, List<Ran> before, List<Ran> inside) {
        long bytes() {
            return shape.size() * 4;
        }

        void free() {
            if (output != null) {
                output.close();
            } else {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    // the offload folder is removed with the run
                }
            }
        }
    }

    private final NDManager manager;
    private final Predicate<LinearLayer> settled;
    private final long budgetBytes;
    private final Path dir;
    private int files;
    private final Map<String, Entry> entries = new HashMap<>();
    /** The linear layers run (or replayed) so far in this pass, in order. */
    private final List<Ran> ran = new ArrayList<>();
    /** Keys touched inside each step now computing, innermost last: recorded once the outer one is, they are dead. */
    private final List<List<String>> open = new ArrayList<>();
    private long bytes;
    private int batch = -1;
    private long replayed;

    /**
     * @param parent      the memory the stored outputs come from (freed with it at the latest)
     * @param settled     whether a layer will stay as it is for the rest of the block
     * @param dir         where outputs are kept as files (raw FLOAT32, read back on replay), so
     *                    that the memo costs disk and not memory; null: in memory
     * @param budgetBytes at most this much is kept; a step that would exceed it is not recorded
     */
    public StepMemo(NDManager parent, Predicate<LinearLayer> settled, Path dir, long budgetBytes) {
        this.manager = parent.newSubManager();
        this.settled = settled;
        this.dir = dir;
        this.budgetBytes = budgetBytes;
    }

    /** Starts a pass over batch {@code index}; -1 ends memoisation (every step is computed until the next pass begins). */
    public void begin(int index) {
        batch = index;
        ran.clear();
        open.clear();
    }

    /** Forgets every stored output (the block changed in a way the layer checks cannot see). */
    public void clear() {
        entries.values().forEach(Entry::free);
        entries.clear();
        bytes = 0;
    }

    /** Steps replayed since this memo was made. */
    public long replayed() {
        return replayed;
    }

    /** Bytes of outputs stored now. */
    public long bytes() {
        return bytes;
    }

    void ran(Module owner, String slot, LinearLayer layer) {
        if (batch >= 0) {
            ran.add(new Ran(owner, slot, layer));
        }
    }

    NDArray step(String key, Supplier<NDArray> compute) {
        if (batch < 0) {
            return compute.get();
        }
        String k = key + "@" + batch;
        open.forEach(keys -> keys.add(k));
        Entry e = entries.get(k);
        if (e != null && e.before().equals(ran) && e.inside().stream().allMatch(Ran::inPlace)) {
            ran.addAll(e.inside());
            replayed++;
            return e.output() == null ? FloatFiles.read(manager, e.file(), e.shape(), "a forward step's output")
                    : e.output().reshape(e.shape()); // a view the pass may close; the stored one stays
        }
        int from = ran.size();
        List<String> inner = new ArrayList<>();
        open.add(inner);
        NDArray out;
        try {
            out = compute.get();
        } finally {
            open.removeLast();
        }
        List<Ran> before = List.copyOf(ran.subList(0, from));
        List<Ran> inside = List.copyOf(ran.subList(from, ran.size()));
        long size = out.getShape().size() * 4;
        boolean fixed = ran.stream().allMatch(r -> settled.test(r.layer())); // before and inside
        if (e != null) {
            forget(k); // stale
        }
        long freed = inner.stream().map(entries::get).filter(java.util.Objects::nonNull).mapToLong(Entry::bytes).sum();
        if (!fixed || out.getDataType() != DataType.FLOAT32 || bytes - freed + size > budgetBytes) {
            return out;
        }
        inner.forEach(this::forget); // this step's replay never reaches them
        bytes += size;
        if (dir != null) {
            Path file = dir.resolve("step-" + files++ + ".f32");
            FloatFiles.write(file, out, "a forward step's output");
            entries.put(k, new Entry(null, file, out.getShape(), before, inside));
            return out;
        }
        NDArray kept = Scopes.keep(out, manager);
        entries.put(k, new Entry(kept, null, kept.getShape(), before, inside));
        return kept.reshape(kept.getShape());
    }

    private void forget(String key) {
        Entry e = entries.remove(key);
        if (e != null) {
            e.free();
            bytes -= e.bytes();
        }
    }

    @Override
    public void close() {
        clear();
        manager.close();
    }
}
