package org.fmsmo.core.session;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
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
import org.fmsmo.core.nn.Scopes;

/**
 * The calibration examples at one block boundary: one {@code [B, T, H]} hidden state per batch,
 * with the batch's attention mask and which of its rows are real tokens. Moving them across a
 * block replaces each batch's state, so memory does not grow with depth. Owns its arrays.
 */
public final class HiddenStates implements AutoCloseable {

    /** One batch at the current block boundary; {@code realTokens} is null when no row is padding. */
    public record Batch(NDArray hidden, NDArray mask, NDArray realTokens) {
    }

    private final NDManager keep;
    private final List<Batch> batches = new ArrayList<>();

    private HiddenStates(NDManager keep) {
        this.keep = keep;
    }

    /**
     * The embeddings of every calibration batch.
     *
     * @param embed token ids and attention mask (null for none) → the first block's input
     */
    public static HiddenStates embed(CalibrationData data, NDManager parent, BiFunction<NDArray, NDArray, TransformerModel.BlockInput> embed) {
        HiddenStates states = new HiddenStates(parent.newSubManager());
        data.forEachBatch(states.keep, (ids, mask) -> {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                TransformerModel.BlockInput in = embed.apply(ids, mask);
                NDArray rows = mask == null ? null : Scopes.keep(mask.reshape(-1).toType(DataType.BOOLEAN, false), states.keep);
                states.batches.add(new Batch(Scopes.keep(in.hidden(), states.keep), Scopes.keep(in.mask(), states.keep), rows));
            }
        });
        return states;
    }

    public List<Batch> batches() {
        return java.util.Collections.unmodifiableList(batches);
    }

    /** Bytes the hidden states take. */
    public long bytes() {
        return batches.stream().mapToLong(b -> b.hidden().getShape().size() * 4).sum();
    }

    /** Replaces each batch's hidden state by {@code block}'s output on it. */
    public void advance(Function<Batch, NDArray> block) {
        for (int k = 0; k < batches.size(); k++) {
            Batch s = batches.get(k);
            NDArray next;
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                next = Scopes.keep(block.apply(s), keep);
            }
            s.hidden().close();
            batches.set(k, new Batch(next, s.mask(), s.realTokens()));
        }
    }

    /** Runs {@code pass} on every batch, each in a scope of its own that frees what it made. */
    public void forEach(java.util.function.Consumer<Batch> pass) {
        for (Batch s : batches) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                pass.accept(s);
            }
        }
    }

    /** Writes every batch's hidden state (FLOAT32, bit for bit) into one safetensors file, for a run that resumes here. */
    public void save(Path file) {
        List<TensorData> tensors = new ArrayList<>();
        for (int k = 0; k < batches.size(); k++) {
            NDArray h = batches.get(k).hidden();
            tensors.add(new TensorData("hidden." + k, Dtype.F32, h.getShape().getShape(), ch -> {
                ByteBuffer b = h.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                while (b.hasRemaining()) {
                    ch.write(b);
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
                if (!f.tensors().containsKey(name) || !java.util.Arrays.equals(f.info(name).shape(), s.hidden().getShape().getShape())) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": expected tensor '" + name + "' of shape " + s.hidden().getShape()
                            + ", found " + (f.tensors().containsKey(name) ? java.util.Arrays.toString(f.info(name).shape()) : "none"));
                }
                NDArray h = keep.create(f.floats(name), s.hidden().getShape());
                s.hidden().close();
                batches.set(k, new Batch(h, s.mask(), s.realTokens()));
            }
        }
    }

    @Override
    public void close() {
        keep.close();
    }
}
