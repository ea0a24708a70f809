package org.fmsmo.kernels.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.fmsmo.api.quant.Fp8Format;

/**
 * The GPU check from Java, for a GPU machine with no JDK and no DJL native engine: a jlink'd
 * runtime runs this class with the fmsmo-api and kernels-cuda jars on the class path
 * ({@code kernels-cuda/bench/make_gpu_bundle.sh}, {@code gpu_check.sh}). It drives the backends'
 * own layer code ({@link W8A8Gemm}, {@link W4A16Gemm}) through the FFM driver bindings on plain
 * memory:
 * <ul>
 *   <li>exactness: INT8 outputs bit for bit against a CPU reference that quantizes the same way
 *       and sums in exact integers; FP8 codes bit for bit and outputs within the accumulation
 *       bound of each kernel; W4A16 outputs against a float64 sum of the FP16-dequantized weights;</li>
 *   <li>speed: kernels alone between CUDA events, and per-layer latency seen from Java (upload,
 *       kernels, download) at 1 to 16 tokens.</li>
 * </ul>
 * Usage: {@code java -cp "jars/*" org.fmsmo.kernels.cuda.GpuCheck [--output FILE.json]}; exit 0
 * when every check passed, 1 when one failed, 2 when no GPU could be used.
 */
public final class GpuCheck {

    private static final int[][] W8A8_SHAPES = {{7, 45, 19}, {130, 300, 257}, {1, 4096, 4096}, {128, 384, 1536}, {512, 344, 128},
        {16, 4096, 11008}, {64, 11008, 4096}};
    /** tokens, in, out, group (0: per channel), zero points?, act-order? */
    private static final int[][] W4_SHAPES = {{5, 256, 200, 32, 1, 0}, {1, 4096, 4096, 128, 0, 0}, {33, 512, 100, 64, 1, 0},
        {16, 4096, 11008, 128, 1, 0}, {300, 512, 384, 128, 1, 0}, {3, 344, 128, 0, 1, 0}, {7, 1024, 96, 128, 0, 1}, {40, 344, 64, 0, 0, 0}};

    private final CudaDevice gpu;
    private final SplittableRandom random = new SplittableRandom(7);
    private final List<Map<String, Object>> checks = new ArrayList<>();
    private final List<Map<String, Object>> timings = new ArrayList<>();
    private int failures;

    private GpuCheck(CudaDevice gpu) {
        this.gpu = gpu;
    }

    public static void main(String[] args) throws IOException {
        Path output = args.length == 2 && args[0].equals("--output") ? Path.of(args[1]) : null;
        if (args.length != 0 && output == null) {
            System.err.println("usage: GpuCheck [--output FILE.json]");
            System.exit(2);
        }
        Path driver = CudaDriver.find().orElse(null);
        if (driver == null || Kernels.missing().isPresent()) {
            System.err.println("error: no GPU check possible: " + (driver == null ? CudaDriver.availability().reason() : Kernels.missing().get()));
            System.exit(2);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        int failed;
        try (CudaDevice gpu = new CudaDevice(driver)) {
            System.out.printf("device: %s, compute capability %s, %d SMs, kernels built with nvcc %s, Hopper kernels: %s%n", gpu.name,
                    gpu.capabilityText(), gpu.multiprocessors, Kernels.builtWith(), gpu.hopper());
            report.put("device", gpu.name);
            report.put("compute_capability", gpu.capabilityText());
            report.put("hopper_kernels", gpu.hopper());
            report.put("cublaslt", gpu.cublasLt().map(CublasLt::describe).orElse("unavailable: " + gpu.cublasLtMissing()));
            System.out.println("cuBLASLt: " + report.get("cublaslt"));
            GpuCheck check = new GpuCheck(gpu);
            check.w8a8Checks();
            check.w4a16Checks();
            check.timings();
            report.put("checks", check.checks);
            report.put("timings", check.timings);
            failed = check.failures;
        }
        report.put("failures", failed);
        System.out.println(failed == 0 ? "java checks: all passed" : "java checks: " + failed + " FAILED");
        if (output != null) {
            Path tmp = output.resolveSibling(output.getFileName() + ".tmp");
            Files.writeString(tmp, Json.write(report));
            Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    private List<W8A8Gemm.Kernel> kernels(GemmKind kind) {
        List<W8A8Gemm.Kernel> list = new ArrayList<>();
        if (gpu.capability >= kind.minCapability) {
            list.add(W8A8Gemm.Kernel.MMA);
        }
        if (gpu.hopper()) {
            list.add(W8A8Gemm.Kernel.WGMMA);
        }
        if (gpu.capability >= kind.minCapability && gpu.cublasLt().isPresent()) {
            list.add(W8A8Gemm.Kernel.CUBLASLT);
        }
        return list;
    }

    // ---------------------------------------------------------------- exactness

    private void w8a8Checks() {
        for (GemmKind kind : GemmKind.values()) {
            for (W8A8Gemm.Kernel kernel : kernels(kind)) {
                for (boolean promoted : kind == GemmKind.FP8 && kernel == W8A8Gemm.Kernel.WGMMA ? new boolean[] {false, true} : new boolean[] {false}) {
                    for (int[] shape : W8A8_SHAPES) {
                        w8a8Check(kind, kernel, promoted, shape[0], shape[1], shape[2]);
                    }
                }
            }
        }
    }

    private void w8a8Check(GemmKind kind, W8A8Gemm.Kernel kernel, boolean promoted, int m, int k, int n) {
        boolean int8 = kind == GemmKind.INT8;
        byte[] w = new byte[n * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = int8 ? (byte) (random.nextInt(255) - 127) : Fp8Format.E4M3.encode((float) random.nextGaussian(0, 100), true);
        }
        float[] sw = new float[n];
        float[] bias = new float[n];
        for (int o = 0; o < n; o++) {
            sw[o] = 0.001f + 0.02f * (float) random.nextDouble();
            bias[o] = (float) random.nextGaussian();
        }
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian(0, 3);
        }
        float[] y = new float[m * n];
        byte[] q;
        String label;
        try (W8A8Gemm gemm = new W8A8Gemm(gpu, kind, kernel, w, sw, bias, n, k, Float.NaN, 8, promoted); Arena a = Arena.ofConfined()) {
            MemorySegment hx = a.allocateFrom(ValueLayout.JAVA_FLOAT, x);
            MemorySegment hy = a.allocate((long) y.length * 4, 16);
            gemm.forward(hx, hy, m);
            label = gemm.describe();
            MemorySegment.copy(hy, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
            q = gemm.downloadCodes(m);
        }
        // the CPU side: the simulated per-token quantizer, then exact sums
        double[] wd = new double[int8 ? 0 : w.length];
        for (int i = 0; i < wd.length; i++) {
            wd[i] = Fp8Format.E4M3.decode(w[i]);
        }
        float qmax = int8 ? 127f : 448f;
        int codeMismatches = 0;
        int mismatches = 0;
        double worst = 0;
        for (int t = 0; t < m; t++) {
            float amax = 0f;
            for (int i = 0; i < k; i++) {
                amax = Math.max(amax, Math.abs(x[t * k + i]));
            }
            float s = amax / qmax;
            s = s == 0f ? 1f : s;
            byte[] codes = new byte[k];
            for (int i = 0; i < k; i++) {
                float v = x[t * k + i] / s;
                codes[i] = int8 ? (byte) Math.max(-127f, Math.min(127f, (float) Math.rint(v))) : Fp8Format.E4M3.encode(v, true);
                if (codes[i] != q[t * (int) ((k + 31) / 32 * 32) + i]) {
                    codeMismatches++;
                }
            }
            double[] xd = new double[k];
            for (int i = 0; i < k; i++) {
                xd[i] = int8 ? codes[i] : Fp8Format.E4M3.decode(codes[i]);
            }
            for (int o = 0; o < n; o++) {
                double exact = 0;
                double magnitude = 0;
                long sum = 0;
                for (int i = 0; i < k; i++) {
                    if (int8) {
                        sum += codes[i] * w[o * k + i];
                    } else {
                        double p = xd[i] * wd[o * k + i];
                        exact += p;
                        magnitude += Math.abs(p);
                    }
                }
                float got = y[t * n + o];
                if (int8) {
                    float expected = (float) sum * s * sw[o] + bias[o];
                    if (Float.floatToIntBits(got) != Float.floatToIntBits(expected)) {
                        mismatches++;
                    }
                } else {
                    double expected = exact * s * sw[o] + bias[o];
                    double error = Math.abs(got - expected) / Math.max(magnitude * s * sw[o], 1e-30);
                    worst = Math.max(worst, error);
                }
            }
        }
        // FP32 accumulation (mma.sync); the FP8 tensor cores' fast accumulation (wgmma, cuBLASLt); per-slice promotion
        double bound = kernel == W8A8Gemm.Kernel.MMA ? k * Math.pow(2, -23) + 1e-6 : promoted ? Math.pow(2, -9) : Math.pow(2, -8);
        boolean passed = codeMismatches == 0 && mismatches == 0 && worst <= bound;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("check", kind.backendName);
        r.put("kernel", label);
        r.put("shape", m + "x" + k + "x" + n);
        r.put("activation_code_mismatches", codeMismatches);
        if (int8) {
            r.put("output_mismatches", mismatches);
        } else {
            r.put("max_error_of_sum_abs", worst);
            r.put("bound", bound);
        }
        r.put("passed", passed);
        record(r, passed);
    }

    private void w4a16Checks() {
        if (gpu.capability < 80) {
            return;
        }
        for (int[] shape : W4_SHAPES) {
            int m = shape[0], k = shape[1], n = shape[2], group = shape[3];
            boolean withZeros = shape[4] == 1;
            W4 w4 = new W4(n, k, group, withZeros, shape[5] == 1);
            float[] x = new float[m * k];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            float[] y = new float[m * n];
            String label;
            try (W4A16Gemm gemm = w4.layer(); Arena a = Arena.ofConfined()) {
                label = gemm.describe(m);
                MemorySegment hy = a.allocate((long) y.length * 4, 16);
                gemm.forward(a.allocateFrom(ValueLayout.JAVA_FLOAT, x), hy, m);
                MemorySegment.copy(hy, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
            }
            double worst = 0;
            float[] wd = new float[n * k];
            for (int o = 0; o < n; o++) {
                for (int i = 0; i < k; i++) {
                    wd[o * k + i] = w4.dequantized(o, i);
                }
            }
            float[] xh = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                xh[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            }
            for (int t = 0; t < m; t++) {
                for (int o = 0; o < n; o++) {
                    double exact = w4.bias[o];
                    double magnitude = 0;
                    for (int i = 0; i < k; i++) {
                        double p = (double) xh[t * k + i] * wd[o * k + i];
                        exact += p;
                        magnitude += Math.abs(p);
                    }
                    worst = Math.max(worst, Math.abs(y[t * n + o] - exact) / Math.max(magnitude, 1e-30));
                }
            }
            // FP32 accumulation of exact FP16 products (GEMV) or FP16 GEMM on tensor cores (prefill)
            double bound = k * Math.pow(2, -23);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("check", "cuda-w4a16");
            r.put("kernel", label);
            r.put("shape", m + "x" + k + "x" + n);
            r.put("group", group);
            r.put("zero_points", withZeros);
            r.put("act_order", shape[5] == 1);
            r.put("max_error_of_sum_abs", worst);
            r.put("bound", bound);
            r.put("passed", worst <= bound);
            record(r, worst <= bound);
        }
    }

    /** Random 4-bit weights with FP16 scales, their reference dequantization, and the layer. */
    private final class W4 {
        final int n;
        final int k;
        final int group;
        final int groups;
        final byte[] codes;
        final float[] scales;
        final int[] zeros;
        final int[] groupIndex;
        final float[] bias;

        /** @param group 0: one group per row */
        W4(int n, int k, int group, boolean withZeros, boolean actOrder) {
            this.n = n;
            this.k = k;
            this.group = group;
            codes = new byte[n * k];
            for (int i = 0; i < codes.length; i++) {
                codes[i] = (byte) random.nextInt(16);
            }
            groups = group == 0 ? 1 : (k + group - 1) / group;
            scales = new float[n * groups];
            zeros = withZeros ? new int[n * groups] : null;
            for (int i = 0; i < scales.length; i++) {
                scales[i] = Float.float16ToFloat(Float.floatToFloat16(0.001f + 0.02f * (float) random.nextDouble()));
                if (zeros != null) {
                    zeros[i] = random.nextInt(16);
                }
            }
            if (actOrder) { // GPTQ act-order: a permutation of the columns, each group still holding `group` of them
                int[] perm = new int[k];
                for (int i = 0; i < k; i++) {
                    perm[i] = i;
                }
                for (int i = k - 1; i > 0; i--) {
                    int j = random.nextInt(i + 1);
                    int t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
                groupIndex = new int[k];
                for (int i = 0; i < k; i++) {
                    groupIndex[perm[i]] = i / group;
                }
            } else {
                groupIndex = null;
            }
            bias = new float[n];
            for (int o = 0; o < n; o++) {
                bias[o] = (float) random.nextGaussian();
            }
        }

        /** s · (q − z) rounded once to FP16, as the kernels and the FP16 dequantization of GPTQ do. */
        float dequantized(int o, int i) {
            int g = group == 0 ? 0 : groupIndex != null ? groupIndex[i] : i / group;
            int gi = o * groups + g;
            int z = zeros == null ? 8 : zeros[gi];
            return Float.float16ToFloat(Float.floatToFloat16((codes[o * k + i] - z) * scales[gi]));
        }

        W4A16Gemm layer() {
            return new W4A16Gemm(gpu, codes, scales, zeros, bias, n, k, group, groupIndex);
        }
    }

    // ---------------------------------------------------------------- speed

    /** What the timings need of a layer. */
    private interface Timed {
        long[] buffers(int tokens);

        void run(long dx, long dy, int tokens, MemorySegment stream);

        CudaLinear.Layer layer();
    }

    private static Timed timed(W8A8Gemm g) {
        return new Timed() {
            public long[] buffers(int tokens) {
                return g.deviceBuffers(tokens);
            }

            public void run(long dx, long dy, int tokens, MemorySegment stream) {
                g.run(dx, dy, tokens, stream);
            }

            public CudaLinear.Layer layer() {
                return g;
            }
        };
    }

    private static Timed timed(W4A16Gemm g) {
        return new Timed() {
            public long[] buffers(int tokens) {
                return g.deviceBuffers(tokens);
            }

            public void run(long dx, long dy, int tokens, MemorySegment stream) {
                g.run(dx, dy, tokens, stream);
            }

            public CudaLinear.Layer layer() {
                return g;
            }
        };
    }

    private void timings() {
        int[][] prefill = {{4096, 4096, 4096}, {4096, 4096, 11008}, {4096, 11008, 4096}};
        for (GemmKind kind : GemmKind.values()) {
            List<W8A8Gemm.Kernel> timed = new ArrayList<>(kernels(kind));
            if (timed.contains(W8A8Gemm.Kernel.CUBLASLT)) {
                timed.add(W8A8Gemm.Kernel.AUTO);
            }
            for (W8A8Gemm.Kernel kernel : timed) {
                for (int[] s : prefill) {
                    try (W8A8Gemm gemm = randomW8A8(kind, kernel, s[1], s[2])) {
                        deviceTiming(kind.backendName, gemm::describe, s[0], s[1], s[2], timed(gemm));
                    }
                }
                for (int tokens : new int[] {1, 4, 16}) {
                    try (W8A8Gemm gemm = randomW8A8(kind, kernel, 4096, 11008)) {
                        deviceTiming(kind.backendName, gemm::describe, tokens, 4096, 11008, timed(gemm));
                        layerLatency(kind.backendName, gemm.describe(), timed(gemm), tokens);
                    }
                }
            }
        }
        if (gpu.capability >= 80) {
            for (int[] s : new int[][] {{1, 4096, 11008}, {16, 4096, 11008}, {16, 11008, 4096}, {4096, 4096, 11008}}) {
                try (W4A16Gemm gemm = new W4(s[2], s[1], 128, false, false).layer()) {
                    deviceTiming("cuda-w4a16", () -> gemm.describe(s[0]), s[0], s[1], s[2], timed(gemm));
                    if (s[0] <= 16) {
                        layerLatency("cuda-w4a16", gemm.describe(s[0]), timed(gemm), s[0]);
                    }
                }
            }
        }
    }

    private W8A8Gemm randomW8A8(GemmKind kind, W8A8Gemm.Kernel kernel, int k, int n) {
        byte[] w = new byte[n * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) (kind == GemmKind.INT8 ? random.nextInt(255) - 127 : random.nextInt(0x7E));
        }
        float[] sw = new float[n];
        Arrays.fill(sw, 0.01f);
        return new W8A8Gemm(gpu, kind, kernel, w, sw, null, n, k, Float.NaN, 8, false);
    }

    /**
     * The layer's kernels alone (quantize, GEMM, rescale; no copies) between CUDA events: launched
     * one by one from Java, and replayed from a CUDA graph of 20 forwards (the GPU's own time,
     * without Java's launch cost).
     */
    private void deviceTiming(String backend, java.util.function.Supplier<String> label, int m, int k, int n, Timed t) {
        long[] b = t.buffers(m);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate((long) m * k * 4, 16);
            for (long i = 0; i < (long) m * k; i++) {
                x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
            }
            gpu.api.copyToDevice(b[0], x);
        }
        int iterations = m >= 1024 ? 30 : 200;
        for (int i = 0; i < 10; i++) {
            t.run(b[0], b[1], m, MemorySegment.NULL);
        }
        double launched = eventMillis(MemorySegment.NULL, iterations, () -> t.run(b[0], b[1], m, MemorySegment.NULL)) / iterations;
        String kernel = label.get(); // after the first runs: what AUTO chose
        MemorySegment stream = gpu.api.createStream();
        double graphed;
        try {
            gpu.api.beginCapture(stream);
            for (int i = 0; i < 20; i++) {
                t.run(b[0], b[1], m, stream);
            }
            MemorySegment[] graph = gpu.api.endCapture(stream);
            try {
                gpu.api.launchGraph(graph[1], stream);
                gpu.api.synchronize(stream);
                int replays = m >= 1024 ? 2 : 10;
                graphed = eventMillis(stream, replays, () -> gpu.api.launchGraph(graph[1], stream)) / (20.0 * replays);
            } finally {
                gpu.api.destroyGraph(graph[0], graph[1]);
            }
        } finally {
            gpu.api.destroyStream(stream);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("backend", backend);
        r.put("kernel", kernel);
        r.put("shape", m + "x" + k + "x" + n);
        r.put("launched_ms", launched);
        r.put("graph_ms", graphed);
        r.put("tops", 2.0 * m * k * n / graphed / 1e9);
        timings.add(r);
        System.out.printf("time %-10s %-62s %16s  %8.4f ms launched from Java, %8.4f ms from a CUDA graph: %7.1f TOPS%n", backend, kernel,
                m + "x" + k + "x" + n, launched, graphed, 2.0 * m * k * n / graphed / 1e9);
    }

    private double eventMillis(MemorySegment stream, int times, Runnable work) {
        MemorySegment start = gpu.api.createEvent();
        MemorySegment end = gpu.api.createEvent();
        try {
            gpu.api.recordEvent(start, stream);
            for (int i = 0; i < times; i++) {
                work.run();
            }
            gpu.api.recordEvent(end, stream);
            return gpu.api.elapsedMillis(start, end);
        } finally {
            gpu.api.destroyEvent(start);
            gpu.api.destroyEvent(end);
        }
    }

    /**
     * forward() as a backend runs it: upload, kernels, download, seen from Java (median of 200);
     * then the same with the kernels replayed from a CUDA graph captured once.
     */
    private void layerLatency(String backend, String kernel, Timed t, int tokens) {
        CudaLinear.Layer layer = t.layer();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate((long) tokens * layer.in() * 4, 16);
            MemorySegment y = a.allocate((long) tokens * layer.out() * 4, 16);
            double plain = medianMicros(() -> layer.forward(x, y, tokens));
            long[] b = t.buffers(tokens);
            MemorySegment stream = gpu.api.createStream();
            double graphed;
            try {
                gpu.api.beginCapture(stream);
                t.run(b[0], b[1], tokens, stream);
                MemorySegment[] graph = gpu.api.endCapture(stream);
                try {
                    MemorySegment hostX = x.asSlice(0, (long) tokens * layer.in() * 4);
                    MemorySegment hostY = y.asSlice(0, (long) tokens * layer.out() * 4);
                    // the synchronous copies run on the default stream, which waits for the graph's stream
                    graphed = medianMicros(() -> {
                        gpu.api.copyToDevice(b[0], hostX);
                        gpu.api.launchGraph(graph[1], stream);
                        gpu.api.copyToHost(hostY, b[1]);
                    });
                } finally {
                    gpu.api.destroyGraph(graph[0], graph[1]);
                }
            } finally {
                gpu.api.destroyStream(stream);
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("backend", backend);
            r.put("kernel", kernel);
            r.put("shape", tokens + "x" + layer.in() + "x" + layer.out());
            r.put("layer_latency_us", plain);
            r.put("layer_latency_with_cuda_graph_us", graphed);
            timings.add(r);
            System.out.printf("latency %-10s %-60s %16s  %8.1f us per forward from Java, %8.1f us with a CUDA graph "
                    + "(upload + kernels + download, median)%n", backend, kernel, tokens + "x" + layer.in() + "x" + layer.out(), plain, graphed);
        }
    }

    private static double medianMicros(Runnable work) {
        long[] ns = new long[200];
        for (int i = -20; i < ns.length; i++) {
            long t0 = System.nanoTime();
            work.run();
            if (i >= 0) {
                ns[i] = System.nanoTime() - t0;
            }
        }
        Arrays.sort(ns);
        return ns[ns.length / 2] / 1e3;
    }

    private void record(Map<String, Object> r, boolean passed) {
        checks.add(r);
        if (!passed) {
            failures++;
        }
        StringBuilder line = new StringBuilder(passed ? "ok   " : "FAIL ");
        r.forEach((key, value) -> line.append(key).append('=').append(value instanceof Double d ? String.format("%.2e", d) : value).append(' '));
        System.out.println(line.toString().trim());
    }

    /** Just enough JSON for the report: maps, lists, strings, numbers, booleans. */
    static final class Json {
        private Json() {
        }

        static String write(Object value) {
            StringBuilder sb = new StringBuilder();
            append(sb, value);
            return sb.append('\n').toString();
        }

        private static void append(StringBuilder sb, Object value) {
            switch (value) {
                case null -> sb.append("null");
                case Map<?, ?> m -> {
                    sb.append('{');
                    boolean first = true;
                    for (Map.Entry<?, ?> e : m.entrySet()) {
                        sb.append(first ? "" : ", ");
                        first = false;
                        append(sb, String.valueOf(e.getKey()));
                        sb.append(": ");
                        append(sb, e.getValue());
                    }
                    sb.append('}');
                }
                case List<?> l -> {
                    sb.append("[\n");
                    for (int i = 0; i < l.size(); i++) {
                        sb.append(i == 0 ? "  " : ",\n  ");
                        append(sb, l.get(i));
                    }
                    sb.append("\n]");
                }
                case Double d -> sb.append(d.isNaN() || d.isInfinite() ? "null" : d.toString());
                case Number n -> sb.append(n);
                case Boolean b -> sb.append(b);
                default -> {
                    sb.append('"');
                    for (char c : value.toString().toCharArray()) {
                        if (c == '"' || c == '\\') {
                            sb.append('\\').append(c);
                        } else if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                    sb.append('"');
                }
            }
        }
    }
}
