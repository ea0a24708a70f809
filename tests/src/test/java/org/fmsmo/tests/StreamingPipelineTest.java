package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.LayerProfile;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.pipeline.TrainingSetup;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The streamed pipeline against the run that loads the whole model: on small synthetic Llama and
 * Qwen2 checkpoints (random trained-like weights, random calibration tokens) every per-block
 * method writes the same bytes either way — the in-memory run is the reference the streamed one
 * must reproduce. Then sharding, and the runs that cannot stream.
 */
class StreamingPipelineTest {

    /** Llama-shaped: 3 blocks, GQA, untied head. */
    private static final ModelShape LLAMA = new ModelShape("test-llama", "llama", "LlamaForCausalLM", 512, 128, 256, 3, 4, 2, false, false,
            10000.0, 256, 1e-5, null);
    /** Qwen2-shaped: q/k/v biases, tied embeddings. */
    private static final ModelShape QWEN = new ModelShape("test-qwen2", "qwen2", "Qwen2ForCausalLM", 384, 128, 256, 2, 4, 1, true, true,
            1000000.0, 256, 1e-6, null);

    private static Path work;
    private static PluginRegistry registry;

    @BeforeAll
    static void setUp() throws Exception {
        work = Fixtures.freshDir("streaming-" + System.nanoTime());
        SyntheticModel.write(work.resolve("llama"), LLAMA, 7, SyntheticModel.HUB_SHARD_BYTES);
        SyntheticModel.write(work.resolve("qwen2"), QWEN, 8, SyntheticModel.HUB_SHARD_BYTES);
        registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
    }

    @AfterAll
    static void tearDown() {
        registry.close();
    }

    private static Quantization run(String model, String method, String format, String out) {
        return Quantization.of(work.resolve(model)).method(method).format(format).output(work.resolve(out)).plugins(registry)
                .calibration(CalibrationSource.random(6, 24, 4, 11));
    }

    private static void assertSameBytes(Path a, Path b) throws Exception {
        List<String> files = List.of("model.safetensors", "config.json");
        for (String f : files) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f + " differs between " + a + " and " + b);
        }
    }

    private static void streamedEqualsInMemory(String model, String method, String recipe, Map<String, Object> set, String format)
            throws Exception {
        String name = model + "-" + method + "-" + format;
        QuantizationResult streamed = run(model, method, format, name + "-s").recipe(recipe).set(set).run();
        QuantizationResult whole = run(model, method, format, name + "-m").recipe(recipe).set(set).streaming(Streaming.OFF).run();
        assertTrue(streamed.streamed(), name + " should stream");
        assertFalse(whole.streamed());
        assertEquals(whole.report().layers().size(), streamed.report().layers().size());
        assertTrue(streamed.report().layers().size() > 0);
        assertSameBytes(streamed.output(), whole.output());
        assertEquals(whole.skippedLayers(), streamed.skippedLayers(), "the layers left in float, with reasons");
        assertSameWorstLayers(whole, streamed);
    }

    /**
     * The report's worst layers: the same layers, errors and weight histograms. Their input ranges
     * agree to float rounding in the first block only: a whole-model run measures them on the float
     * model, a streamed one on the hidden states it calibrates with, after the earlier blocks were
     * quantized.
     */
    private static void assertSameWorstLayers(QuantizationResult a, QuantizationResult b) {
        assertEquals(3, a.worstLayers().size());
        assertEquals(a.worstLayers().stream().map(LayerProfile::name).toList(), b.worstLayers().stream().map(LayerProfile::name).toList());
        for (int i = 0; i < a.worstLayers().size(); i++) {
            LayerProfile x = a.worstLayers().get(i);
            LayerProfile y = b.worstLayers().get(i);
            assertEquals(x.error(), y.error(), 1e-6 * x.error(), x.name());
            assertEquals(x.inputAbsMax().length, y.inputAbsMax().length);
            for (int c = 0; c < x.inputAbsMax().length; c++) {
                assertTrue(y.inputAbsMax()[c] > 0, x.name() + " input range of channel " + c);
                if (x.name().startsWith("model.layers.0.")) {
                    assertEquals(x.inputAbsMax()[c], y.inputAbsMax()[c], 1e-5 * x.inputAbsMax()[c], x.name() + " input range of channel " + c);
                }
            }
            assertArrayEquals(x.weights().before(), y.weights().before(), x.name());
            assertArrayEquals(x.weights().after(), y.weights().after(), x.name());
            assertTrue(java.util.Arrays.stream(x.weights().before()).sum() == java.util.Arrays.stream(x.weights().after()).sum()
                    && java.util.Arrays.stream(x.weights().after()).sum() > 0, "every weight counted once, before and after");
        }
    }

    @Test
    void gptqStreamedWritesTheSameBytesAsTheWholeModelRun() throws Exception {
        Map<String, Object> w4 = Map.of("qw_spec", "int4-sym-group64", "qw_mode", "maxfullperGp", "nbits_a", 32);
        streamedEqualsInMemory("llama", "gptq", "ptq_int8", w4, "compressed-tensors");
        streamedEqualsInMemory("qwen2", "gptq", "ptq_int8", Map.of("qw_spec", "int4-asym-group64", "qw_mode", "minmaxperGp", "nbits_a", 32,
                "desc_act", true), "gptq");
    }

    /**
     * {@code eval} block by block gives the whole model's perplexity — the same operations on the
     * same batches, so the NLL agrees to rounding of its double sum — for float checkpoints
     * (untied and tied heads) and for a GPTQ W4 checkpoint, whose format decodes it one block at
     * a time.
     */
    @Test
    void streamedEvaluationGivesTheWholeModelsPerplexity() throws Exception {
        Path text = work.resolve("eval.txt");
        java.util.Random random = new java.util.Random(5);
        StringBuilder words = new StringBuilder();
        for (int i = 0; i < 150; i++) {
            words.append('w').append(1 + random.nextInt(200)).append(' ');
        }
        Files.writeString(text, words);
        Map<String, Object> w4 = Map.of("qw_spec", "int4-sym-group64", "qw_mode", "maxfullperGp", "nbits_a", 32);
        Path gptq = run("llama", "gptq", "compressed-tensors", "eval-gptq").recipe("ptq_int8").set(w4).run().output();
        for (Path model : List.of(work.resolve("llama"), work.resolve("qwen2"), gptq)) {
            Map<String, Object> whole = new Evaluator(new ModelLoader(registry)).evaluate(model, new Evaluator.Options(text, null, 16, 3, 256, Streaming.OFF), ProgressListener.NONE);
            Map<String, Object> streamed = new Evaluator(new ModelLoader(registry)).evaluate(model, new Evaluator.Options(text, null, 16, 3, 256, Streaming.ON),
                    ProgressListener.NONE);
            assertEquals(true, streamed.get("streamed"), model.toString());
            assertFalse(whole.containsKey("streamed"));
            assertEquals(9, streamed.get("windows"));
            assertEquals(whole.get("windows"), streamed.get("windows"));
            double nll = (double) whole.get("nll");
            assertEquals(nll, (double) streamed.get("nll"), 1e-12 * nll, model + ": streamed NLL");
        }
        FmsmoException e = assertThrows(FmsmoException.class, () -> new Evaluator(new ModelLoader(registry)).evaluate(work.resolve("llama"),
                new Evaluator.Options(text, null, 200, 3, 256, Streaming.ON), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("at least 201 are needed"), e.getMessage());
    }

    /** A NaN in a weight is an error naming the block it comes out of, whole or streamed, not "perplexity": NaN with exit 0. */
    @Test
    void aNonFiniteOutputIsAnErrorNamingTheBlock() throws Exception {
        Path text = work.resolve("nan.txt");
        Files.writeString(text, "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27 w28 w29 w30 w31 w32 w33");
        Path broken = Files.createDirectories(work.resolve("llama-nan"));
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(work.resolve("llama").resolve(f), broken.resolve(f));
        }
        String name = "model.layers.1.mlp.down_proj.weight";
        long at;
        try (org.fmsmo.core.io.safetensors.SafetensorsModel m = org.fmsmo.core.io.safetensors.SafetensorsModel.open(broken)) {
            at = m.info(name).begin();
        }
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(broken.resolve("model.safetensors"),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer len = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            c.read(len, 0);
            long data = 8 + len.getLong(0);
            c.write(java.nio.ByteBuffer.wrap(new byte[] {(byte) 0xC0, 0x7F}), data + at); // BF16 NaN in the first element
        }
        for (Streaming mode : List.of(Streaming.OFF, Streaming.ON)) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> new Evaluator(new ModelLoader(registry)).evaluate(broken, new Evaluator.Options(text, null, 16, 2, 256, mode),
                    ProgressListener.NONE), mode.toString());
            assertEquals(org.fmsmo.api.ErrorCode.CORRUPT_INPUT, e.code());
            assertTrue(e.getMessage().contains("not finite") && e.getMessage().contains("come out of model.layers.1 "), mode + ": " + e.getMessage());
        }
    }

    @Test
    void rtnAndDynamicFp8StreamedWriteTheSameBytes() throws Exception {
        streamedEqualsInMemory("llama", "rtn", "ptq_int8", Map.of("qw_spec", "int8-sym-channel", "nbits_a", 32), "compressed-tensors");
        streamedEqualsInMemory("qwen2", "fp8", "fp8_dynamic", Map.of(), "compressed-tensors");
        QuantizationResult noData = run("llama", "fp8", "compressed-tensors", "fp8-no-calibration").recipe("fp8_dynamic").calibration(null).run();
        assertTrue(noData.streamed(), "a method that needs no calibration streams without it");
        assertEquals(0, noData.calibrationSamples());
    }

    /**
     * Methods that calibrate on statistics (SmoothQuant's input maxima, static input ranges) see,
     * when streamed, each block's inputs after the earlier blocks were quantized (llm-compressor's
     * sequential pipeline); loaded whole, every layer is calibrated on the float model in one
     * pass. So the checkpoints are close, not identical: every tensor within 2% (relative L2).
     */
    @Test
    void smoothQuantAndStaticFp8StreamedCalibrateBlockByBlock() throws Exception {
        for (String[] c : List.of(new String[] {"llama", "dq", "dq"}, new String[] {"qwen2", "ptq", "fp8_static"})) {
            String name = c[0] + "-" + c[1];
            QuantizationResult streamed = run(c[0], c[1], "compressed-tensors", name + "-s").recipe(c[2]).run();
            QuantizationResult whole = run(c[0], c[1], "compressed-tensors", name + "-m").recipe(c[2]).streaming(Streaming.OFF).run();
            assertTrue(streamed.streamed());
            assertArrayEquals(Files.readAllBytes(whole.output().resolve("config.json")), Files.readAllBytes(streamed.output().resolve("config.json")));
            try (TransformerModel a = new ModelLoader(registry).load(streamed.output()); TransformerModel b = new ModelLoader(registry).load(whole.output())) {
                Map<String, NDArray> pb = b.parameters();
                a.parameters().forEach((n, x) -> {
                    double diff = x.sub(pb.get(n)).norm().getFloat();
                    double ref = pb.get(n).norm().getFloat();
                    assertTrue(diff <= 0.02 * ref, name + " " + n + ": relative difference " + diff / ref);
                });
            }
        }
    }

    /**
     * Hidden states offloaded to files (all of them, or those over a budget of one batch) give
     * the bytes of a run that keeps them in memory; the run's offload folder is removed after.
     */
    @Test
    void offloadedHiddenStatesWriteTheSameBytes() throws Exception {
        Map<String, Object> w4 = Map.of("qw_spec", "int4-sym-group64", "qw_mode", "maxfullperGp", "nbits_a", 32);
        QuantizationResult inMemory = run("llama", "gptq", "compressed-tensors", "offload-none").recipe("ptq_int8").set(w4).run();
        Path dir = work.resolve("offload-dir");
        Files.createDirectories(dir);
        long oneBatch = 4L * 24 * 128 * 4; // 4 samples × 24 tokens × hidden 128, FLOAT32; the second batch (2 samples) goes to a file
        for (long over : new long[] {0, oneBatch}) {
            List<String> notes = new java.util.ArrayList<>();
            QuantizationResult offloaded = run("llama", "gptq", "compressed-tensors", "offload-" + over).recipe("ptq_int8").set(w4)
                    .offload(over == 0 ? dir : null, over).progress(cancelAfter(99, notes)).run();
            assertSameBytes(inMemory.output(), offloaded.output());
            String expected = (over == 0 ? "2" : "1") + " of 2 calibration batches";
            assertTrue(notes.stream().anyMatch(n -> n.contains(expected)), expected + " offloaded? notes: " + notes);
        }
        try (var left = Files.list(dir)) {
            assertEquals(0, left.count(), "the run's offload folder was left behind");
        }
    }

    /** Cancels after {@code blocks} finished blocks (checked before the next one starts). */
    private static ProgressListener cancelAfter(int blocks, List<String> notes) {
        return new ProgressListener() {
            private int started;

            @Override
            public void begin(String task, long total, String unit) {
            }

            @Override
            public void advance(long done) {
            }

            @Override
            public void end() {
            }

            @Override
            public void item(String name) {
                if (name.startsWith("block ")) {
                    started++;
                }
            }

            @Override
            public void note(String message) {
                notes.add(message);
            }

            @Override
            public boolean isCancelled() {
                return started > blocks;
            }
        };
    }

    /**
     * A streamed run stopped after block 2 keeps its finished blocks; the same run started again
     * goes on after block 2 and writes the bytes of a run never stopped, in several shards (one
     * is open when it stops). A run with other arguments throws the leftover away and starts over.
     */
    @Test
    void aStoppedStreamedRunResumesAfterItsLastBlockAndWritesTheSameBytes() throws Exception {
        Map<String, Object> w4 = Map.of("qw_spec", "int4-sym-group64", "qw_mode", "maxfullperGp", "nbits_a", 32);
        java.util.function.Function<String, Quantization> gptq = out -> run("llama", "gptq", "compressed-tensors", out).recipe("ptq_int8").set(w4)
                .maxShardBytes(150_000);
        QuantizationResult whole = gptq.apply("resume-whole").run();
        List<String> notes = new java.util.ArrayList<>();
        assertThrows(java.util.concurrent.CancellationException.class, () -> gptq.apply("resume-cut").progress(cancelAfter(2, notes)).run());
        Path partial = work.resolve(".resume-cut.fmsmo-partial");
        assertTrue(Files.isDirectory(partial), "the stopped run's finished blocks were not kept; notes: " + notes);
        assertFalse(Files.exists(work.resolve("resume-cut")));
        QuantizationResult resumed = gptq.apply("resume-cut").progress(cancelAfter(99, notes)).run();
        assertEquals(2, resumed.resumedAfterBlocks(), String.valueOf(notes));
        assertEquals(whole.report().layers().size(), resumed.report().layers().size());
        assertEquals(whole.skippedLayers(), resumed.skippedLayers());
        assertSameWorstLayers(whole, resumed); // the blocks before the stop are profiled through the checkpoint
        assertFalse(Files.exists(partial));
        try (var files = Files.list(whole.output())) {
            List<Path> written = files.sorted().toList();
            assertTrue(written.size() > 4, "expected several shards: " + written);
            for (Path f : written) {
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(resumed.output().resolve(f.getFileName())), f.getFileName() + " differs");
            }
        }
        try (var files = Files.list(resumed.output())) {
            assertEquals(0, files.filter(f -> f.getFileName().toString().startsWith(".") || f.getFileName().toString().startsWith("shard-")).count());
        }
        // Stopped again, then started with another config: the leftover is not mixed in.
        assertThrows(java.util.concurrent.CancellationException.class, () -> gptq.apply("resume-other").progress(cancelAfter(1, notes)).run());
        notes.clear();
        QuantizationResult other = gptq.apply("resume-other").set("qw_spec", "int4-sym-group128").progress(cancelAfter(99, notes)).run();
        assertEquals(0, other.resumedAfterBlocks());
        assertTrue(notes.stream().anyMatch(n -> n.contains("with other arguments")), String.valueOf(notes));
    }

    @Test
    void shardedOutputLoadsToTheSameWeights() throws Exception {
        Map<String, Object> w4 = Map.of("qw_spec", "int4-sym-group64", "qw_mode", "maxfullperGp", "nbits_a", 32);
        Path one = run("llama", "rtn", "compressed-tensors", "one").recipe("ptq_int8").set(w4).run().output();
        Path sharded = run("llama", "rtn", "compressed-tensors", "sharded").recipe("ptq_int8").set(w4).maxShardBytes(100_000).run().output();
        try (var files = Files.list(sharded)) {
            assertTrue(files.filter(p -> p.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count() > 3);
        }
        assertTrue(Files.isRegularFile(sharded.resolve("model.safetensors.index.json")));
        try (TransformerModel a = new ModelLoader(registry).load(one); TransformerModel b = new ModelLoader(registry).load(sharded)) {
            Map<String, NDArray> pa = a.parameters();
            Map<String, NDArray> pb = b.parameters();
            assertEquals(pa.keySet(), pb.keySet());
            pa.forEach((n, x) -> assertArrayEquals(x.toFloatArray(), pb.get(n).toFloatArray(), n));
        }
        try (var left = Files.list(work)) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "temporary folders were left behind");
        }
    }

    @Test
    void runsThatCannotStreamSaySoOrRefuse() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> run("llama", "qat", "compressed-tensors", "qat").recipe("qat_int8")
                .training(new TrainingSetup(work.resolve("none.txt"), null, false, 16, 2, 0, null)).streaming(Streaming.ON).run());
        assertTrue(e.getMessage().contains("training (qat) needs the whole model"), e.getMessage());
        FmsmoException budget = assertThrows(FmsmoException.class, () -> run("llama", "rtn", "fms", "fms").memoryBudget(1000).run());
        assertTrue(budget.getMessage().contains("over the memory budget") && budget.getMessage().contains("format fms is not written part by part"),
                budget.getMessage());
        assertFalse(Files.exists(work.resolve("qat")));
        assertFalse(Files.exists(work.resolve("fms")));
    }
}
