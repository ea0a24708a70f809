package org.fmsmo.core.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * Throughput of a deploy backend's W8A8 linear layer against DJL's FLOAT32 matmul at the same
 * shape {@code [M, K] × [K, N]}: random INT8 weight codes with per-channel scales, random
 * inputs quantized per token at run time (the backend's whole path: quantize, integer GEMM,
 * rescale). Median of the timed runs after warm-up; GOP/s = 2·M·K·N / time.
 */
public final class GemmBenchmark {

    private GemmBenchmark() {
    }

    /** A GEMM shape: M tokens, K inputs, N outputs. */
    public record GemmShape(int m, int k, int n) {
        /** Parses {@code MxKxN}. */
        public static GemmShape parse(String text) {
            String[] p = text.toLowerCase(java.util.Locale.ROOT).split("x");
            try {
                if (p.length == 3) {
                    GemmShape s = new GemmShape(Integer.parseInt(p[0].strip()), Integer.parseInt(p[1].strip()), Integer.parseInt(p[2].strip()));
                    if (s.m() > 0 && s.k() > 0 && s.n() > 0) {
                        return s;
                    }
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "GEMM shape '" + text + "': expected MxKxN with positive sizes, e.g. 512x4096x4096");
        }

        @Override
        public String toString() {
            return m + "x" + k + "x" + n;
        }
    }

    public static Map<String, Object> run(DeployBackend backend, String backendName, GemmShape shape, int warmup, int iterations) {
        Random rng = new Random(shape.hashCode());
        byte[] codes = new byte[shape.n() * shape.k()];
        for (int i = 0; i < codes.length; i++) {
            codes[i] = (byte) (rng.nextInt(255) - 127);
        }
        float[] scales = new float[shape.n()];
        Arrays.fill(scales, 0.01f);
        float[] x = new float[shape.m() * shape.k()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        try (NDManager m = NDManager.newBaseManager()) {
            QuantSpec wSpec = QuantSpec.parse("int8-sym-channel");
            QuantizedTensor w = new QuantizedTensor(wSpec, m.create(ByteBuffer.wrap(codes), new Shape(shape.n(), shape.k()), DataType.INT8),
                    m.create(scales, new Shape(shape.n(), 1)), null);
            NDArray input = m.create(x, new Shape(shape.m(), shape.k()));
            double backendSeconds;
            try (PreparedLinear layer = backend.prepare(FrozenLinear.dynamic("bench", w, null, QuantSpec.parse("int8-sym-token")))) {
                backendSeconds = timed(warmup, iterations, () -> layer.forward(input).close());
            }
            NDArray wf = m.create(new float[shape.k() * shape.n()], new Shape(shape.k(), shape.n()));
            double floatSeconds = timed(warmup, iterations, () -> input.matMul(wf).close());
            double ops = 2.0 * shape.m() * shape.k() * shape.n();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("shape", shape.toString());
            r.put("backend", backendName);
            r.put("backend_ms", backendSeconds * 1e3);
            r.put("backend_gops", ops / backendSeconds / 1e9);
            r.put("f32_ms", floatSeconds * 1e3);
            r.put("f32_gflops", ops / floatSeconds / 1e9);
            r.put("ratio", floatSeconds / backendSeconds);
            return r;
        }
    }

    /**
     * Warm-up runs: at least {@code warmup} of them and at least this long, so that the JIT has
     * compiled the kernels. Timed runs: at least {@code iterations} and at least this long, because
     * a median of a few millisecond-long runs on a shared 2-core machine swings by 3x.
     */
    static final long MIN_NANOS = 1_000_000_000L;

    private static double timed(int warmup, int iterations, Runnable run) {
        long start = System.nanoTime();
        for (int i = 0; i < warmup || System.nanoTime() - start < MIN_NANOS; i++) {
            run.run();
        }
        double[] t = new double[Math.max(1, iterations)];
        int n = 0;
        start = System.nanoTime();
        while (n < Math.max(1, iterations) || (System.nanoTime() - start < MIN_NANOS && n < 100_000)) {
            if (n == t.length) {
                t = Arrays.copyOf(t, 2 * n);
            }
            long t0 = System.nanoTime();
            run.run();
            t[n++] = (System.nanoTime() - t0) / 1e9;
        }
        t = Arrays.copyOf(t, n);
        return ForwardBenchmark.median(t);
    }
}
