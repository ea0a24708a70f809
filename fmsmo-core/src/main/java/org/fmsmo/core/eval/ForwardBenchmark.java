package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;

/**
 * Forward throughput of a model against the plain libtorch matmuls of its linear layers at the
 * same shapes: the ratio says how much of the forward time the GEMMs themselves take, and so
 * how much the module tree, attention and element-wise work cost on top.
 */
public final class ForwardBenchmark {

    private ForwardBenchmark() {
    }

    /**
     * @return forward and matmul-only medians in milliseconds, tokens/s, GFLOP/s and their ratio
     */
    public static Map<String, Object> run(TransformerModel model, int batch, int seqLen, int warmup, int iterations) {
        long vocab = model.linearLayers().stream().mapToLong(LinearLayer::outFeatures).max().orElse(1);
        Random random = new Random(7);
        long[] ids = new long[batch * seqLen];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 3 + random.nextInt((int) Math.min(vocab - 3, 1000)); // ordinary tokens, no specials
        }
        double[] forward = new double[iterations];
        double[] gemm = new double[iterations];
        try (NDManager m = model.manager().newSubManager()) {
            NDArray input = m.create(ids, new Shape(batch, seqLen));
            NDArray mask = m.ones(new Shape(batch, seqLen), ai.djl.ndarray.types.DataType.INT64);
            // Same shapes as the forward: activations [B·T, in] times each weight, pre-transposed.
            NDArray[] xs = model.linearLayers().stream().map(l -> m.randomNormal(new Shape((long) batch * seqLen, l.inFeatures()))).toArray(NDArray[]::new);
            NDArray[] ws = model.linearLayers().stream().map(l -> l.weight().transpose().duplicate()).toArray(NDArray[]::new);
            Arrays.stream(ws).forEach(w -> w.attach(m));
            for (int i = 0; i < warmup + iterations; i++) {
                long t0 = System.nanoTime();
                try (NDManager step = m.newSubManager()) {
                    NDArray in = input.duplicate();
                    in.attach(step);
                    NDArray out = switch (model) {
                        case CausalLM lm -> lm.logits(in);
                        case SentenceEncoder enc -> enc.hiddenStates(in, mask);
                        default -> throw new IllegalArgumentException(model.architecture());
                    };
                    out.toFloatArray(); // wait for the result like a caller would
                }
                long t1 = System.nanoTime();
                try (NDManager step = m.newSubManager()) {
                    for (int j = 0; j < xs.length; j++) {
                        NDArray y = xs[j].matMul(ws[j]);
                        y.attach(step);
                        y.getFloat(0, 0); // forces completion on asynchronous devices
                    }
                }
                long t2 = System.nanoTime();
                if (i >= warmup) {
                    forward[i - warmup] = (t1 - t0) / 1e6;
                    gemm[i - warmup] = (t2 - t1) / 1e6;
                }
            }
        }
        double fwd = median(forward);
        double mm = median(gemm);
        double flops = 2.0 * batch * seqLen * model.linearLayers().stream().mapToDouble(l -> (double) l.inFeatures() * l.outFeatures()).sum();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model.dir().toString());
        r.put("architecture", model.architecture());
        r.put("batch", batch);
        r.put("seq_len", seqLen);
        r.put("forward_ms", fwd);
        r.put("forward_tokens_per_second", batch * seqLen / (fwd / 1e3));
        r.put("linear_gflops_in_forward", flops / (fwd / 1e3) / 1e9);
        r.put("matmul_only_ms", mm);
        r.put("matmul_only_gflops", flops / (mm / 1e3) / 1e9);
        r.put("matmul_share_of_forward", mm / fwd);
        return r;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
