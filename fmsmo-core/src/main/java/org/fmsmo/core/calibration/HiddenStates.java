package org.fmsmo.core.calibration;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.FloatFiles;
import org.fmsmo.core.nn.Scopes;

/**
 * The calibration examples at one block boundary: one {@code [B, T, H]} hidden state per batch,
 * with the batch's attention mask and which of its rows are real tokens. Moving them across a
 * block replaces each batch's state, so memory does not grow with depth. Owns its arrays.
 *
 * <p>With an {@link Offload}, batches beyond its byte budget live in files in its folder (raw
 * FLOAT32, bit for bit) and are read one at a time when a pass needs them, so a large
 * calibration set costs disk, not memory.
 */
public final class HiddenStates implements AutoCloseable {

    /** Batch {@code index} at the current block boundary; {@code realTokens} is null when no row is padding. */
    public record Batch(int index, NDArray hidden, NDArray mask, NDArray realTokens) {
    }

    /** Where hidden states beyond {@code budgetBytes} (in memory) go; the folder is created at the first one and removed by the caller. */
    public record Offload(Path dir, long budgetBytes) {
        /** The budget when none is given: 2 GB of hidden states in memory. */
        public static final long DEFAULT_BUDGET = 2_000_000_000L;
    }

    private final NDManager keep;
    private final Offload offload;
    // hidden is null for a batch kept in its offload file; its shape is in shapes
    private final List<Batch> batches = new ArrayList<>();
    private final List<Shape> shapes = new ArrayList<>();

    private HiddenStates(NDManager keep, Offload offload) {
        this.keep = keep;
        this.offload = offload;
    }

    /**
     * The embeddings of every calibration batch, all in memory.
     *
     * @param embed token ids and attention mask (null for none) → the first block's input
     */
    public static HiddenStates embed(CalibrationData data, NDManager parent, BiFunction<NDArray, NDArray, TransformerModel.BlockInput> embed) {
        return embed(data, parent, embed, null);
    }

    /** The embeddings of every calibration batch, those beyond the offload's budget in its folder ({@code offload} may be null). */
    public static HiddenStates embed(CalibrationData data, NDManager parent, BiFunction<NDArray, NDArray, TransformerModel.BlockInput> embed,
                                     Offload offload) {
        HiddenStates states = new HiddenStates(parent.newSubManager(), offload);
        data.forEachBatch(states.keep, (ids, mask) -> {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                TransformerModel.BlockInput in = embed.apply(ids, mask);
                NDArray rows = mask == null ? null : Scopes.keep(mask.reshape(-1).toType(DataType.BOOLEAN, false), states.keep);
                int k = states.batches.size();
                states.shapes.add(in.hidden().getShape());
                NDArray kept = states.offloads(in.hidden()) ? states.spill(k, in.hidden()) : Scopes.keep(in.hidden(), states.keep);
                states.batches.add(new Batch(k, kept, Scopes.keep(in.mask(), states.keep), rows));
            }
        });
        return states;
    }

    /** Number of batches. */
    public int size() {
        return batches.size();
    }

    /** Number of examples, over all batches. */
    public long samples() {
        return shapes.stream().mapToLong(sh -> sh.get(0)).sum();
    }

    /** Bytes the hidden states take in memory (not those in offload files). */
    public long bytes() {
        return batches.stream().filter(b -> b.hidden() != null).mapToLong(b -> b.hidden().getShape().size() * 4).sum();
    }

    /** What the offload budget leaves free in memory beside the hidden states (unbounded without an offload). */
    public long headroom() {
        return offload == null ? Long.MAX_VALUE : Math.max(0, offload.budgetBytes() - bytes());
    }

    /** Batches in offload files. */
    public int offloaded() {
        return (int) batches.stream().filter(b -> b.hidden() == null).count();
    }

    /** Replaces each batch's hidden state by {@code block}'s output on it. */
    public void advance(Function<Batch, NDArray> block) {
        for (int k = 0; k < batches.size(); k++) {
            Batch s = batches.get(k);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray next = block.apply(view(k));
                if (s.hidden() == null) {
                    spill(k, next); // freed with the scope
                    continue;
                }
                next = Scopes.keep(next, keep);
                s.hidden().close();
                batches.set(k, new Batch(k, next, s.mask(), s.realTokens()));
            }
        }
    }

    /** Runs {@code pass} on every batch, each in a scope of its own that frees what it made (and an offloaded state read for it). */
    public void forEach(java.util.function.Consumer<Batch> pass) {
        for (int k = 0; k < batches.size(); k++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                pass.accept(view(k));
            }
        }
    }

    /**
     * As {@link #forEach}, on the first {@code n} samples only: a batch past them is not run, the
     * one they end in is cut to its first rows (its padding mask too; a causal mask is per position).
     */
    public void forFirstSamples(int n, java.util.function.Consumer<Batch> pass) {
        int left = n;
        for (int k = 0; k < batches.size() && left > 0; k++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                Batch b = view(k);
                long rows = b.hidden().getShape().get(0);
                if (left < rows) {
                    long t = b.hidden().getShape().get(1);
                    NDArray mask = b.mask() != null && b.mask().getShape().dimension() == 4 ? b.mask().get("0:{}", left) : b.mask();
                    NDArray real = b.realTokens() == null ? null : b.realTokens().get("0:{}", left * t);
                    b = new Batch(k, b.hidden().get("0:{}", left), mask, real);
                }
                left -= (int) Math.min(rows, left);
                pass.accept(b);
            }
        }
    }

    /**
     * Runs {@code pass} on batch {@code k} of these states and of {@code other} together (the same
     * examples at two places, or through two versions of a model), each pair in a scope of its own.
     */
    public void forEachWith(HiddenStates other, java.util.function.BiConsumer<Batch, Batch> pass) {
        if (other.size() != size()) {
            throw new IllegalArgumentException("hidden states of " + size() + " and " + other.size() + " batches");
        }
        for (int k = 0; k < batches.size(); k++) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                pass.accept(view(k), other.view(k));
            }
        }
    }

    /** Batch {@code k} with its hidden state in memory: read from its offload file into the current scope when offloaded. */
    private Batch view(int k) {
        Batch s = batches.get(k);
        return s.hidden() != null ? s : new Batch(k, read(k), s.mask(), s.realTokens());
    }

    private boolean offloads(NDArray next) {
        return offload != null && bytes() + next.getShape().size() * 4 > offload.budgetBytes();
    }

    private Path file(int k) {
        return offload.dir().resolve(String.format("hidden-%05d.f32", k));
    }

    /** Writes {@code h} to batch {@code k}'s offload file (replacing it); returns null, the batch's in-memory state. */
    private NDArray spill(int k, NDArray h) {
        FloatFiles.write(file(k), h, "hidden states");
        return null;
    }

    /** Batch {@code k}'s offloaded state, as an array the current scope frees. */
    private NDArray read(int k) {
        return FloatFiles.read(keep, file(k), shapes.get(k), "hidden states");
    }

    /** The folder offloaded arrays go to; null when nothing is offloaded. */
    public Path offloadDir() {
        return offload == null ? null : offload.dir();
    }

    /** Writes every batch's hidden state (FLOAT32, bit for bit) into one safetensors file, for a run that resumes here. */
    public void save(Path file) {
        List<TensorData> tensors = new ArrayList<>();
        for (int k = 0; k < batches.size(); k++) {
            int batch = k;
            tensors.add(new TensorData("hidden." + k, Dtype.F32, shapes.get(k).getShape(), ch -> {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    ByteBuffer b = view(batch).hidden().toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                }
            }));
        }
        try {
            SafetensorsWriter.writeFile(file, tensors, Map.of());
            try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
                c.force(true);
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the hidden states to " + file + ": " + e.getMessage(), e);
        }
    }

    /** Replaces each batch's hidden state by the one {@link #save} wrote (the masks come from the same calibration data). */
    public void restore(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (int k = 0; k < batches.size(); k++) {
                Batch s = batches.get(k);
                String name = "hidden." + k;
                Shape shape = shapes.get(k);
                if (!f.tensors().containsKey(name) || !java.util.Arrays.equals(f.info(name).shape(), shape.getShape())) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": expected tensor '" + name + "' of shape " + shape
                            + ", found " + (f.tensors().containsKey(name) ? java.util.Arrays.toString(f.info(name).shape()) : "none"));
                }
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray h = keep.create(f.floats(name), shape);
                    if (s.hidden() == null) {
                        spill(k, h);
                        continue;
                    }
                    h = Scopes.keep(h, keep);
                    s.hidden().close();
                    batches.set(k, new Batch(k, h, s.mask(), s.realTokens()));
                }
            }
        }
    }

    @Override
    public void close() {
        keep.close();
    }
}
