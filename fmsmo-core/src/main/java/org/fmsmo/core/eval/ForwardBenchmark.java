package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.core.io.TextFiles;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;

/**
 * Forward throughput of models side by side: a float model, its quantized one simulated, the same
 * one deployed on a backend. Rounds are interleaved (each round times one pass of every variant
 * in turn), so machine noise falls on all of them alike, and the first variant is the peer the
 * others are compared with. A pass is either one batch of random tokens, where the plain libtorch
 * matmuls of the model's linear layers at the same shapes are timed too (how much of the forward
 * the GEMMs take), or every batch of a text: the sentences of a file for an encoder, padded per
 * batch as {@code eval} feeds them, or non-overlapping windows of the text for a causal LM.
 */
public final class ForwardBenchmark {

    /** One model as the bench runs it; {@code runOn} says how its quantized layers run ({@code simulated} or a backend). */
    public record Variant(String runOn, TransformerModel model) {
    }

    /**
     * What one pass feeds a model.
     *
     * @param random whether the batches are random tokens (then the matmul-only time is measured as well)
     */
    public record Workload(String name, List<TokenBatch> batches, boolean random) {
        long tokens() {
            return batches.stream().mapToLong(TokenBatch::tokens).sum();
        }
    }

    private ForwardBenchmark() {
    }

    /** One batch of {@code batch × seqLen} ordinary token ids (no specials), the same for every model. */
    public static Function<TransformerModel, Workload> random(int batch, int seqLen) {
        return model -> {
            long vocab = model.linearLayers().stream().mapToLong(LinearLayer::outFeatures).max().orElse(1);
            Random random = new Random(7);
            long[] ids = new long[batch * seqLen];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = 3 + random.nextInt((int) Math.min(vocab - 3, 1000));
            }
            long[] mask = new long[ids.length];
            Arrays.fill(mask, 1L);
            return new Workload("random " + batch + "×" + seqLen, List.of(new TokenBatch(ids, mask, batch, seqLen, ids.length)), true);
        };
    }

    /**
     * A text file as {@code eval} reads it: for an encoder its non-blank lines as sentences in
     * padded batches, special tokens added, each cut at {@code seqLen} (the tokens counted are the
     * sentences' own); for a causal LM non-overlapping windows of {@code seqLen} tokens.
     */
    public static Function<TransformerModel, Workload> text(java.nio.file.Path data, int batchSize, int seqLen) {
        String name = String.valueOf(data.getFileName());
        return model -> switch (model) {
            case SentenceEncoder enc -> sentences(name, enc, TextFiles.readUtf8(data, "data file").lines().filter(l -> !l.isBlank()).toList(),
                    batchSize, seqLen);
            case CausalLM lm -> windows(name, lm, Evaluator.tokens(lm.tokenizer(), data, Long.MAX_VALUE), seqLen, batchSize);
            default -> throw new IllegalArgumentException(model.architecture());
        };
    }

    private static Workload sentences(String name, SentenceEncoder enc, List<String> sentences, int batchSize, int maxTokens) {
        if (sentences.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, name + " has no sentences (one per line expected)");
        }
        List<TokenBatch> batches = new ArrayList<>();
        for (int first = 0; first < sentences.size(); first += batchSize) {
            batches.add(TokenBatch.padded(enc.tokenizer(), sentences, first, Math.min(batchSize, sentences.size() - first), maxTokens));
        }
        return new Workload(name, batches, false);
    }

    private static Workload windows(String name, CausalLM lm, long[] ids, int window, int batchSize) {
        int windows = (ids.length - 1) / window;
        if (windows == 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, name + " has " + ids.length + " tokens, fewer than one window of " + window + " plus one");
        }
        List<TokenBatch> batches = new ArrayList<>();
        for (int first = 0; first < windows; first += batchSize) {
            int b = Math.min(batchSize, windows - first);
            long[] flat = Arrays.copyOfRange(ids, first * window, (first + b) * window);
            long[] mask = new long[flat.length];
            Arrays.fill(mask, 1L);
            batches.add(new TokenBatch(flat, mask, b, window, flat.length));
        }
        return new Workload(name, batches, false);
    }

    /**
     * Times the variants in interleaved rounds.
     *
     * @return per variant, in order: medians over the timed rounds of the pass time, tokens/s and
     *         the speed relative to the first variant; with a random workload also the matmul-only
     *         time, its GFLOP/s and its share of the forward
     */
    public static List<Map<String, Object>> run(List<Variant> variants, Function<TransformerModel, Workload> workload, int warmup,
                                                 int iterations) {
        int n = variants.size();
        Workload[] work = new Workload[n];
        double[][] forward = new double[n][iterations];
        double[][] gemm = new double[n][iterations];
        for (int v = 0; v < n; v++) {
            work[v] = workload.apply(variants.get(v).model());
        }
        for (int i = 0; i < warmup + iterations; i++) {
            for (int v = 0; v < n; v++) {
                TransformerModel model = variants.get(v).model();
                double f = pass(model, work[v]);
                double g = work[v].random() ? matmuls(model, work[v].batches().getFirst()) : Double.NaN;
                if (i >= warmup) {
                    forward[v][i - warmup] = f;
                    gemm[v][i - warmup] = g;
                }
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        double first = median(forward[0]);
        for (int v = 0; v < n; v++) {
            TransformerModel model = variants.get(v).model();
            double fwd = median(forward[v]);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("model", model.dir().toString());
            r.put("architecture", model.architecture());
            r.put("run_on", variants.get(v).runOn());
            r.put("workload", work[v].name());
            r.put("batches", work[v].batches().size());
            r.put("tokens", work[v].tokens());
            r.put("forward_ms", fwd);
            r.put("forward_tokens_per_second", work[v].tokens() / (fwd / 1e3));
            r.put("speed_vs_first", first / fwd);
            if (work[v].random()) {
                TokenBatch b = work[v].batches().getFirst();
                double mm = median(gemm[v]);
                double flops = 2.0 * b.tokens() * model.linearLayers().stream().mapToDouble(l -> (double) l.inFeatures() * l.outFeatures()).sum();
                r.put("linear_gflops_in_forward", flops / (fwd / 1e3) / 1e9);
                r.put("matmul_only_ms", mm);
                r.put("matmul_only_gflops", flops / (mm / 1e3) / 1e9);
                r.put("matmul_share_of_forward", mm / fwd);
            }
            rows.add(r);
        }
        return rows;
    }

    /** Milliseconds for one forward of every batch, each result read back as a caller would. */
    private static double pass(TransformerModel model, Workload work) {
        long t0 = System.nanoTime();
        for (TokenBatch batch : work.batches()) {
            try (NDManager step = model.manager().newSubManager()) {
                NDArray in = step.create(batch.ids(), new Shape(batch.b(), batch.t()));
                NDArray out = switch (model) {
                    case CausalLM lm -> lm.logits(in);
                    case SentenceEncoder enc -> enc.embed(in, step.create(batch.mask(), new Shape(batch.b(), batch.t())));
                    default -> throw new IllegalArgumentException(model.architecture());
                };
                out.toFloatArray();
            }
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    /** Milliseconds for the plain libtorch matmuls of every linear layer at the batch's shapes: activations [B·T, in] times each weight. */
    private static double matmuls(TransformerModel model, TokenBatch batch) {
        try (NDManager m = model.manager().newSubManager()) {
            List<NDArray[]> pairs = new ArrayList<>();
            for (LinearLayer l : model.linearLayers()) {
                NDArray w = l.weight().transpose().duplicate();
                w.attach(m);
                pairs.add(new NDArray[] {m.randomNormal(new Shape(batch.tokens(), l.inFeatures())), w});
            }
            long t0 = System.nanoTime();
            for (NDArray[] p : pairs) {
                NDArray y = p[0].matMul(p[1]);
                y.getFloat(0, 0); // forces completion on asynchronous devices
            }
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
