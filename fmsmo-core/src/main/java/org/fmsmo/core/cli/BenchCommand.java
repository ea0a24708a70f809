package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.ForwardBenchmark;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fmsmo bench}: forward throughput of model folders against plain libtorch matmuls at the
 * same shapes, and the heap a large synthetic checkpoint needs to load. Prints a table and, with
 * {@code --output}, writes the numbers as JSON.
 */
@Command(name = "bench", description = {
        "Benchmark models, kernels and loading.",
        "Forward tokens/s of models against plain matmuls of their layer shapes, a backend's GEMMs against float ones,",
        "and the heap needed to load a large synthetic checkpoint (--load-synthetic)."})
final class BenchCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Model folder to benchmark (repeatable).")
    List<Path> models = new ArrayList<>();

    @Option(names = "--batch-size", defaultValue = "4", paramLabel = "N", description = "Sequences per forward (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--data", paramLabel = "FILE",
            description = "Time passes over this text instead of one random batch: an encoder's lines as sentences in padded batches"
                    + " (cut at --seq-len), a causal LM's non-overlapping --seq-len windows.")
    Path data;

    @Option(names = "--iterations", defaultValue = "10", paramLabel = "N", description = "Timed rounds (each runs every model once, interleaved); the median is reported (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N", description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--load-synthetic", paramLabel = "LAYERS",
            description = "Write a TinyLlama-1.1B-shaped BF16 checkpoint with this many layers (22 = 1.1B parameters) to a temporary"
                    + " folder, load it and report time and peak heap; the folder is deleted afterwards.")
    Integer syntheticLayers;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where the synthetic checkpoint goes (default: the system temp folder).")
    Path workDir;

    @Option(names = "--output", paramLabel = "FILE", description = "Also write the results as JSON (atomically).")
    Path output;

    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Option(names = "--shapes", split = ",", paramLabel = "MxKxN",
            description = "GEMM shapes for --backend (default: MiniLM and tiny-llama layers at 512 tokens, 512x4096x4096;"
                    + " none when --model is given: the model then runs on the backend).")
    List<String> shapes;

    private static final List<String> DEFAULT_SHAPES = List.of("512x384x384", "512x384x1536", "512x1536x384", "512x128x344",
            "512x344x128", "512x4096x4096");

    @picocli.CommandLine.Mixin
    PluginOptions plugins;

    @Override
    public Integer call() throws Exception {
        if (models.isEmpty() && syntheticLayers == null && !backend.selected()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "nothing to benchmark: pass --model DIR, --load-synthetic LAYERS and/or --backend NAME");
        }
        if (data != null && !Files.isRegularFile(data)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--data " + data + " does not exist or is not a file");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (org.fmsmo.core.plugin.PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            return run(registry, out);
        }
    }

    private int run(org.fmsmo.core.plugin.PluginRegistry registry, PrintWriter out) throws IOException {
        ModelLoader loader = new ModelLoader(registry);
        Map<String, Object> results = new LinkedHashMap<>();
        try (org.fmsmo.api.deploy.DeployBackend b = backend.selected() ? backend.open(registry) : null;
             Closer loaded = new Closer()) {
            List<ForwardBenchmark.Variant> variants = new ArrayList<>();
            Map<Integer, org.fmsmo.core.deploy.Deployment.Result> deployments = new LinkedHashMap<>();
            for (Path dir : models) {
                TransformerModel model = loaded.add(loader.load(dir, data != null));
                boolean quantized = model.linearLayers().stream().anyMatch(l -> l instanceof org.fmsmo.core.quant.QLinear);
                variants.add(new ForwardBenchmark.Variant(quantized ? "simulated" : "float", model));
                if (b != null && quantized) {
                    // A second copy with its frozen layers moved to the backend: the deployed model.
                    TransformerModel deployed = loaded.add(loader.load(dir, data != null));
                    org.fmsmo.core.deploy.Deployment.Result d = org.fmsmo.core.deploy.Deployment.apply(deployed, b);
                    variants.add(new ForwardBenchmark.Variant(backend.name, deployed));
                    deployments.put(variants.size() - 1, d);
                }
            }
            if (!variants.isEmpty()) {
                List<Map<String, Object>> forward = ForwardBenchmark.run(variants,
                        data != null ? ForwardBenchmark.text(data, batch, seqLen) : ForwardBenchmark.random(batch, seqLen), warmup, iterations);
                deployments.forEach((v, d) -> {
                    forward.get(v).put("backend_layers", d.onBackend());
                    forward.get(v).put("simulated_layers", d.simulated());
                });
                results.put("forward", forward);
                printForward(forward, out);
            }
            if (b != null && (shapes != null || models.isEmpty())) {
                results.put("gemm", gemm(b, shapes != null ? shapes : DEFAULT_SHAPES, out));
            }
        }
        if (syntheticLayers != null) {
            Map<String, Object> load = loadSynthetic(loader, syntheticLayers, out);
            results.put("load", load);
        }
        if (output != null) {
            OutputFiles.writeString(output, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(results));
        }
        return 0;
    }

    private static void printForward(List<Map<String, Object>> forward, PrintWriter out) {
        out.printf("%-34s %-14s %-16s %10s %12s %8s %10s %12s %8s%n", "MODEL", "RUN ON", "WORKLOAD", "PASS ms", "tok/s", "vs 1st",
                "GEMM ms", "GEMM GFLOP/s", "GEMM %");
        for (Map<String, Object> r : forward) {
            out.printf("%-34s %-14s %-16s %10.2f %12.0f %7.2fx", shorten((String) r.get("model")), r.get("run_on"), r.get("workload"),
                    r.get("forward_ms"), r.get("forward_tokens_per_second"), r.get("speed_vs_first"));
            if (r.containsKey("matmul_only_ms")) {
                out.printf(" %10.2f %12.1f %7.0f%%%n", r.get("matmul_only_ms"), r.get("matmul_only_gflops"),
                        100 * (double) r.get("matmul_share_of_forward"));
            } else {
                out.printf(" %10s %12s %8s%n", "-", "-", "-");
            }
        }
        out.flush();
    }

    /** The models a bench holds at once, closed together. */
    private static final class Closer implements AutoCloseable {
        private final List<TransformerModel> models = new ArrayList<>();

        TransformerModel add(TransformerModel m) {
            models.add(m);
            return m;
        }

        @Override
        public void close() {
            models.forEach(TransformerModel::close);
        }
    }

    private List<Map<String, Object>> gemm(org.fmsmo.api.deploy.DeployBackend b, List<String> shapes, PrintWriter out) {
        List<org.fmsmo.core.eval.GemmBenchmark.GemmShape> parsed = shapes.stream().map(org.fmsmo.core.eval.GemmBenchmark.GemmShape::parse).toList();
        List<Map<String, Object>> rows = new ArrayList<>();
        {
            out.printf("%-16s %12s %12s %12s %12s %8s%n", "M×K×N", backend.name + " ms", "GOP/s", "f32 ms", "GFLOP/s", "ratio");
            for (org.fmsmo.core.eval.GemmBenchmark.GemmShape s : parsed) {
                Map<String, Object> r = org.fmsmo.core.eval.GemmBenchmark.run(b, backend.name, s, warmup, iterations);
                rows.add(r);
                out.printf("%-16s %12.2f %12.1f %12.2f %12.1f %7.2fx%n", s, r.get("backend_ms"), r.get("backend_gops"), r.get("f32_ms"),
                        r.get("f32_gflops"), r.get("ratio"));
                out.flush();
            }
        }
        return rows;
    }

    private Map<String, Object> loadSynthetic(ModelLoader loader, int layers, PrintWriter out) throws IOException {
        ModelShape shape = ModelShape.preset("tinyllama-1.1b").withLayers(layers);
        Path parent = Files.createTempDirectory(workDir == null ? Path.of(System.getProperty("java.io.tmpdir")) : workDir, "fmsmo-bench-");
        Path dir = parent.resolve("synthetic-llama");
        try {
            long t0 = System.nanoTime();
            SyntheticModel.write(dir, shape, 0, 1L << 30);
            long t1 = System.nanoTime();
            System.gc();
            long heapBefore = heapUsed();
            List<MemoryPoolMXBean> heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                    .filter(p -> p.getType() == MemoryType.HEAP).toList();
            heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);
            long t2 = System.nanoTime();
            long params;
            long nativeBytes;
            try (TransformerModel model = loader.load(dir, false)) {
                params = model.parameterCount();
                nativeBytes = model.parameterBytes();
            }
            long t3 = System.nanoTime();
            long peak = heapPools.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
            long largest = 4L * shape.vocab() * shape.hidden();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("parameters", params);
            r.put("checkpoint_bytes", org.fmsmo.core.eval.Evaluator.weightBytesOnDisk(dir));
            r.put("write_seconds", (t1 - t0) / 1e9);
            r.put("load_seconds", (t3 - t2) / 1e9);
            r.put("loaded_f32_bytes", nativeBytes);
            r.put("largest_tensor_f32_bytes", largest);
            r.put("heap_used_before_load", heapBefore);
            r.put("heap_peak_during_load", peak);
            r.put("max_heap", Runtime.getRuntime().maxMemory());
            out.printf("synthetic Llama: %,d parameters, %.2f GB BF16 on disk, written in %.1f s%n", params,
                    (long) r.get("checkpoint_bytes") / 1e9, r.get("write_seconds"));
            out.printf("load: %.1f s into %.2f GB of native FLOAT32; heap peak %.1f MB (before %.1f MB, max heap %.0f MB,"
                            + " largest tensor %.0f MB as F32)%n", r.get("load_seconds"), nativeBytes / 1e9, peak / 1e6, heapBefore / 1e6,
                    Runtime.getRuntime().maxMemory() / 1e6, largest / 1e6);
            return r;
        } finally {
            OutputFiles.deleteTree(parent);
        }
    }

    private static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static String shorten(String s) {
        return s.length() <= 40 ? s : "…" + s.substring(s.length() - 39);
    }
}
