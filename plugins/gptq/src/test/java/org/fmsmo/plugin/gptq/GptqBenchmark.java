package org.fmsmo.plugin.gptq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * GPTQ time per layer for synthetic layers (not a unit test; run by {@code bench/gptq.sh}).
 *
 * <p>For each shape {@code in×out}: 8,192 calibration rows {@code X [tokens, in]} with correlated
 * columns and a few loud channels (as real activations have), a Gaussian weight {@code [out, in]}, then the three
 * phases a layer costs in a real run, timed separately — the Hessian {@code (2/N)XᵀX}, the
 * factorisation ({@link Gptq#factor}: the damped H copied out of the Hessian's tiles, then the
 * recursive inverse-Cholesky) and the blocked quantization with lazy updates, the same calls a run
 * makes (a run factors once per stage of layers sharing an input; here every layer is its own). W4, group 128, symmetric, block 128, damp
 * 0.01. Each size runs once untimed first, then the median of {@code --repeat} runs is reported.
 *
 * <p>Peak memory: the process's resident high-water mark (VmHWM, reset before each size through
 * {@code /proc/self/clear_refs}) — this includes the native buffers of the DJL engine — and the
 * Java heap committed (which the JVM grows to the peak it needed).
 *
 * <p>Arguments: {@code [--shapes 2048,4096,4096x14336] [--tokens 8192] [--repeat 3] [--output FILE]}; a shape
 * is {@code n} (square) or {@code in×out}, written {@code INxOUT}.
 */
public final class GptqBenchmark {

    private GptqBenchmark() {
    }

    record Row(int in, int out, int tokens, double hessianS, double factorS, double quantizeS, double totalS, double outputError, long peakRssBytes,
               long peakHeapBytes) {
    }

    public static void main(String[] args) throws Exception {
        String[] shapes = {"1024", "2048", "4096"};
        int tokens = 8192;
        int repeat = 3;
        Path output = null;
        for (int i = 0; i < args.length; i += 2) {
            String value = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--shapes" -> shapes = value.split(",");
                case "--tokens" -> tokens = Integer.parseInt(value);
                case "--repeat" -> repeat = Integer.parseInt(value);
                case "--output" -> output = Path.of(value);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; expected --shapes N|INxOUT,… --tokens N --repeat N --output FILE");
            }
        }
        List<Row> rows = new ArrayList<>();
        System.out.printf(Locale.ROOT, "GPTQ W4 g128 sym, block 128, damp 0.01; %d calibration tokens; %d cores%n", tokens,
                Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "%12s %10s %10s %10s %10s %10s %12s %12s%n", "in x out", "hessian_s", "factor_s", "quant_s", "total_s", "out_err",
                "peak_rss_MB", "heap_MB");
        try (NDManager m = NDManager.newBaseManager()) {
            for (String shape : shapes) {
                String[] io = shape.split("x");
                int in = Integer.parseInt(io[0]);
                int out = io.length > 1 ? Integer.parseInt(io[1]) : in;
                Row row = measure(in, out, tokens, repeat, m);
                rows.add(row);
                System.out.printf(Locale.ROOT, "%12s %10.3f %10.3f %10.3f %10.3f %10.6f %12.0f %12.0f%n", in + "x" + out, row.hessianS(), row.factorS(),
                        row.quantizeS(), row.totalS(), row.outputError(), row.peakRssBytes() / 1048576.0, row.peakHeapBytes() / 1048576.0);
            }
        }
        if (output != null) {
            write(rows, output);
            System.out.println("wrote " + output);
        }
    }

    private static Row measure(int n, int out, int tokens, int repeat, NDManager m) throws Exception {
        Random rng = new Random(n);
        float[] x = inputs(tokens, n, rng);
        float[] w = new float[out * n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rng.nextGaussian() * 0.02);
        }
        Gptq.Options o = new Gptq.Options(4, true, 128, 0.01, false, false, 128, true);
        // The inputs and the weight are engine arrays before the clock starts, as a run's are (and
        // as the torch reference's tensors are).
        NDManager held = m.newSubManager();
        NDArray[] batches = batches(x, tokens, n, held);
        NDArray weight = held.create(w, new Shape(out, n));
        resetPeaks();
        double[] hs = new double[repeat];
        double[] fs = new double[repeat];
        double[] qs = new double[repeat];
        double error = Double.NaN;
        float[] sampled = GptqMethod.sampleRows(Gptq.transposed(weight), out, n);
        for (int r = -1; r < repeat; r++) { // r = -1: warm-up
            try (NDManager step = m.newSubManager(); Hessian h = new Hessian(n, step)) {
                long t0 = System.nanoTime();
                for (NDArray batch : batches) {
                    h.add(batch);
                }
                long t1 = System.nanoTime();
                Gptq.Factor f = Gptq.factor(h, n, o, step);
                long t2 = System.nanoTime();
                Gptq.Result q = Gptq.quantizeTransposed(Gptq.transposed(weight), out, n, f, o, step); // as GptqMethod does
                long t3 = System.nanoTime();
                if (r == repeat - 1) { // untimed: the layer's output error as a run reports it, the same for every repeat
                    error = GptqMethod.sampledOutputError(sampled, q, h, out, n, step);
                }
                if (r >= 0) {
                    hs[r] = (t1 - t0) / 1e9;
                    fs[r] = (t2 - t1) / 1e9;
                    qs[r] = (t3 - t2) / 1e9;
                }
            }
        }
        held.close();
        double hessian = median(hs);
        double factor = median(fs);
        double quant = median(qs);
        return new Row(n, out, tokens, hessian, factor, quant, hessian + factor + quant, error, peakRss(), peakHeap());
    }

    /** The inputs the way a run hands them to the Hessian: batches of 2,048 rows (a calibration batch). */
    private static NDArray[] batches(float[] x, int tokens, int n, NDManager m) {
        int batch = 2048;
        NDArray[] out = new NDArray[(tokens + batch - 1) / batch];
        for (int b = 0; b < out.length; b++) {
            int rows = Math.min(batch, tokens - b * batch);
            out[b] = m.create(java.util.Arrays.copyOfRange(x, b * batch * n, (b * batch + rows) * n), new Shape(rows, n));
        }
        return out;
    }

    /** Correlated columns (each leaks into the next) with every 97th channel 10× louder. */
    private static float[] inputs(int tokens, int n, Random rng) {
        float[] x = new float[tokens * n];
        for (int t = 0; t < tokens; t++) {
            float previous = 0;
            for (int j = 0; j < n; j++) {
                float v = (float) rng.nextGaussian() + 0.5f * previous;
                previous = v;
                x[t * n + j] = j % 97 == 0 ? 10 * v : v;
            }
        }
        return x;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }

    private static void resetPeaks() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5"); // resets VmHWM (Linux)
        } catch (IOException | UnsupportedOperationException e) {
            // not Linux or not permitted: the high-water mark then covers the whole run
        }
    }

    /** Heap committed after the runs: the JVM grows it to what the peak needed (the module reads no java.management). */
    private static long peakHeap() {
        return Runtime.getRuntime().totalMemory();
    }

    private static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return -1;
    }

    private static void write(List<Row> rows, Path output) throws IOException {
        StringBuilder json = new StringBuilder("{\n  \"benchmark\": \"gptq\",\n  \"bits\": 4,\n  \"group_size\": 128,\n  \"cores\": ")
                .append(Runtime.getRuntime().availableProcessors()).append(",\n  \"layers\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            json.append(String.format(Locale.ROOT,
                    "    {\"in\": %d, \"out\": %d, \"tokens\": %d, \"hessian_s\": %.4f, \"factor_s\": %.4f, \"quantize_s\": %.4f, \"total_s\": %.4f,"
                            + " \"output_error\": %.6f, \"peak_rss_bytes\": %d, \"heap_committed_bytes\": %d}%s%n",
                    r.in(), r.out(), r.tokens(), r.hessianS(), r.factorS(), r.quantizeS(), r.totalS(), r.outputError(), r.peakRssBytes(), r.peakHeapBytes(),
                    i + 1 < rows.size() ? "," : ""));
        }
        json.append("  ]\n}\n");
        Path parent = output.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, ".gptq-bench", ".tmp");
        Files.writeString(tmp, json);
        Files.move(tmp, output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
