package org.fmsmo.core.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.Scalars;
import org.fmsmo.api.quant.TrainingObjective;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.FmsFormat;
import org.fmsmo.core.eval.EmbeddingFidelity;
import org.fmsmo.core.eval.Perplexity;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.TextFiles;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;

/**
 * The host's {@link TrainingObjective}: training batches from a text file (a decoder's
 * consecutive windows, an encoder's lines), and the loss —
 * <ul>
 *   <li>{@code kl-distill} (causal LM with a teacher): mean over tokens of
 *       {@code KL(p_teacher ‖ p_student) = Σ_v p_t(v)·(log p_t(v) − log p_s(v))};</li>
 *   <li>{@code next-token} (causal LM without one): mean cross-entropy of token t+1 given the
 *       window up to t;</li>
 *   <li>{@code embedding-cosine} (encoder; needs the teacher): mean of {@code 1 − cos(e_s, e_t)}
 *       between mean-pooled sentence embeddings; or {@code embedding-mse}, the mean squared
 *       difference of the embeddings ({@link #embeddingLoss}).</li>
 * </ul>
 * Each pass over the batches is shuffled by {@code Random(seed, pass)}, so the batch of a step
 * depends on nothing else (a resumed run sees what an uninterrupted one would).
 */
public final class Training implements TrainingObjective {

    private final TransformerModel student;
    private final TransformerModel teacher;
    private final CalibrationData data;
    private final long seed;
    private String name;
    private final int seqLen;
    private final int batchSize;
    private final long[] evalIds;
    private final List<String> evalSentences;
    private float[][] teacherEval;
    private Path checkpoints;
    private QuantConfig config;
    private Resumed resumed;
    private boolean trainAll;

    /** Checkpoints kept in the checkpoint folder; older ones are deleted. */
    static final int KEEP = 2;
    static final String STATE_TENSORS = "qat_state.safetensors";
    static final String STATE_JSON = "qat_state.json";

    /**
     * @param teacher   the float model to distil from (same architecture and tokenizer); null for
     *                  plain next-token training of a causal LM
     * @param evalData  held-out text, or null
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} for an encoder without teacher,
     *                        or unreadable files
     */
    public Training(TransformerModel student, TransformerModel teacher, Path trainData, Path evalData, int seqLen, int batchSize,
                    long seed) {
        if (teacher == null && !(student instanceof CausalLM)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "training an encoder needs distillation from the float model (--distill):"
                    + " its loss is 1 − cosine to the teacher's sentence embeddings");
        }
        if (teacher != null && teacher.getClass() != student.getClass()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "the teacher is a " + teacher.architecture() + ", the student a "
                    + student.architecture());
        }
        this.student = student;
        this.teacher = teacher;
        this.seqLen = seqLen;
        this.batchSize = batchSize;
        this.seed = seed;
        this.data = CalibrationData.fromText(student, trainData, Integer.MAX_VALUE, seqLen, batchSize);
        this.name = student instanceof CausalLM ? (teacher != null ? "kl-distill" : "next-token") : "embedding-cosine";
        String eval = evalData == null ? null : read(evalData);
        this.evalIds = eval != null && student instanceof CausalLM ? student.tokenizer().encode(eval, false) : null;
        this.evalSentences = eval != null && student instanceof SentenceEncoder
                ? Arrays.stream(eval.split("\n")).map(String::strip).filter(l -> !l.isEmpty()).toList() : null;
    }

    /**
     * For an encoder: {@code cosine} (default) or {@code mse} between the student's and the
     * teacher's sentence embeddings.
     */
    public Training embeddingLoss(String kind) {
        if (!(student instanceof SentenceEncoder)) {
            return this;
        }
        switch (kind) {
            case "cosine" -> name = "embedding-cosine";
            case "mse" -> name = "embedding-mse";
            default -> throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "qat_embedding_loss '" + kind + "': expected cosine or mse");
        }
        return this;
    }

    /**
     * Whether {@link #weights} holds every float parameter of the student (embeddings, norms, an
     * unquantized head, as a training loop over {@code model.parameters()} trains them) rather than
     * only the quantized layers' weights and biases.
     */
    public Training trainAll(boolean all) {
        this.trainAll = all;
        return this;
    }

    /**
     * Saves resumable checkpoints under {@code folder} ({@code step-<N>}, the newest
     * {@value #KEEP} kept), each with {@code config}.
     */
    public Training checkpointTo(Path folder, QuantConfig config) {
        this.checkpoints = folder;
        this.config = config;
        return this;
    }

    /**
     * Resumes from {@code dir}, a checkpoint this class wrote: reads the step and the method
     * state. The student must have been loaded from it ({@link org.fmsmo.core.checkpoint.ModelLoader#loadForTraining}).
     */
    public Training resumeFrom(Path dir) {
        Path json = dir.resolve(STATE_JSON);
        Path tensors = dir.resolve(STATE_TENSORS);
        if (!Files.isRegularFile(json) || !Files.isRegularFile(tensors)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--resume " + dir + ": expected a QAT checkpoint folder with " + STATE_JSON
                    + " and " + STATE_TENSORS + " (step-<N> under <output>.checkpoints)");
        }
        try (SafetensorsFile f = SafetensorsFile.open(tensors)) {
            long step = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile()).path("step").asLong(-1);
            if (step < 0) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, json + ": expected {\"step\": N}");
            }
            Map<String, float[]> state = new LinkedHashMap<>();
            for (String name : f.tensors().keySet()) {
                state.put(name, f.floats(name));
            }
            this.resumed = new Resumed(step, state);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "cannot read " + json + ": " + e.getMessage(), e);
        }
        return this;
    }

    @Override
    public java.util.Optional<Resumed> resumed() {
        return java.util.Optional.ofNullable(resumed);
    }

    @Override
    public void checkpoint(long step, Map<String, NDArray> methodState) {
        if (checkpoints == null) {
            return;
        }
        try {
            Files.createDirectories(checkpoints);
            Path partial = checkpoints.resolve(".step-" + step + ".partial");
            OutputFiles.deleteTree(partial);
            CheckpointFormats.write(student, FmsFormat.NAME, new FmsFormat(), partial, config);
            List<TensorData> tensors = new ArrayList<>();
            methodState.forEach((n, a) -> tensors.add(TensorData.ofFloats(n, Dtype.F32, a.getShape().getShape(), a.toFloatArray())));
            SafetensorsWriter.writeFile(partial.resolve(STATE_TENSORS), tensors, Map.of());
            Files.writeString(partial.resolve(STATE_JSON), "{\"step\": " + step + ", \"objective\": \"" + name + "\"}\n");
            Path done = checkpoints.resolve(String.format(java.util.Locale.ROOT, "step-%08d", step));
            OutputFiles.deleteTree(done);
            Files.move(partial, done, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            try (var list = Files.list(checkpoints)) {
                List<Path> all = list.filter(p -> p.getFileName().toString().startsWith("step-")).sorted().toList();
                for (int i = 0; i < all.size() - KEEP; i++) {
                    OutputFiles.deleteTree(all.get(i));
                }
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the QAT checkpoint of step " + step + " under " + checkpoints + ": "
                    + e.getMessage(), e);
        }
    }

    private static String read(Path file) {
        return TextFiles.readUtf8(file, "training text");
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int batchesPerEpoch() {
        return data.batches();
    }

    /** Which batch step {@code step} trains on: pass {@code step / n} shuffled by (seed, pass). */
    int batchOf(long step) {
        int n = data.batches();
        long pass = step / n;
        List<Integer> order = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed * 1_000_003L + pass));
        return order.get((int) (step % n));
    }

    @Override
    public NDArray loss(long step) {
        NDManager m = student.manager();
        CalibrationData.Batch b = data.batch(batchOf(step), m);
        return switch (student) {
            case CausalLM lm when teacher != null -> klDistill(scoped(lm.logits(b.ids())), scoped(((CausalLM) teacher).logits(b.ids())));
            case CausalLM lm -> nextToken(scoped(lm.logits(b.ids())), b.ids());
            case SentenceEncoder enc -> {
                NDArray mask = b.mask() != null ? b.mask() : b.ids().onesLike();
                NDArray mine = scoped(enc.embed(b.ids(), mask));
                NDArray target = scoped(((SentenceEncoder) teacher).embed(b.ids(), mask));
                yield name.equals("embedding-mse") ? mine.sub(target.stopGradient()).square().mean() : cosineDistance(mine, target);
            }
            default -> throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "cannot train a " + student.architecture());
        };
    }

    /**
     * Hands a model output to the caller's scope. Forward passes give their result to the input's
     * manager, outside any scope; left there, each step's output — and through it the step's
     * whole autograd graph — would live as long as the model.
     */
    private static NDArray scoped(NDArray output) {
        NDScope.register(output);
        return output;
    }

    /** Mean over tokens of KL(p_t ‖ p_s). */
    static NDArray klDistill(NDArray studentLogits, NDArray teacherLogits) {
        NDArray logPs = studentLogits.logSoftmax(-1);
        NDArray logPt = teacherLogits.stopGradient().logSoftmax(-1);
        return logPt.exp().mul(logPt.sub(logPs)).sum(new int[] {-1}).mean();
    }

    /** Mean cross-entropy of ids[:, t+1] under logits[:, t]. */
    static NDArray nextToken(NDArray logits, NDArray ids) {
        long t = ids.getShape().get(1);
        NDArray logp = logits.get(":, :{}, :", t - 1).logSoftmax(-1);
        NDArray target = ids.get(":, 1:").expandDims(-1);
        return logp.gather(target, -1).mean().neg();
    }

    /** Mean of 1 − cos(a_i, b_i) over rows. */
    static NDArray cosineDistance(NDArray a, NDArray b) {
        NDArray bt = b.stopGradient();
        NDArray dot = a.mul(bt).sum(new int[] {-1});
        NDArray norms = Scalars.maximum(a.norm(new int[] {-1}).mul(bt.norm(new int[] {-1})), 1e-12f);
        return dot.div(norms).neg().add(1f).mean();
    }

    @Override
    public long tokens(long step) {
        return data.tokens(batchOf(step));
    }

    @Override
    public Map<String, NDArray> weights() {
        if (trainAll) {
            return student.parameters();
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (LinearLayer l : student.linearLayers()) {
            if (l instanceof LayerWrapper w) {
                out.put(l.name() + ".weight", w.wrapped().weight());
                w.wrapped().bias().ifPresent(b -> out.put(l.name() + ".bias", b));
            }
        }
        return out;
    }

    @Override
    public OptionalDouble evaluate() {
        if (evalIds != null) {
            return OptionalDouble.of(Perplexity.evaluate((CausalLM) student, evalIds, seqLen, batchSize, ProgressListener.NONE).perplexity());
        }
        if (evalSentences != null) {
            if (teacherEval == null) {
                teacherEval = EmbeddingFidelity.embed((SentenceEncoder) teacher, evalSentences, batchSize, seqLen, ProgressListener.NONE).vectors();
            }
            float[][] mine = EmbeddingFidelity.embed((SentenceEncoder) student, evalSentences, batchSize, seqLen, ProgressListener.NONE).vectors();
            return OptionalDouble.of(EmbeddingFidelity.compare(mine, teacherEval).mean());
        }
        return OptionalDouble.empty();
    }
}
