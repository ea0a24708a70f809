package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.export.ImportedModel;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Evaluator;
import org.fmsmo.core.export.Exports;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.model.Streaming;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QLinear;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GGUF export of tiny-llama through the distribution's gguf plugin: files read back bit-exactly
 * (a Q8_0 or Q4_0 file read and written again is the same file), perplexity through {@code eval}
 * close to the model it came from, the tokenizer rebuilt to the same ids, GPTQ's codes kept in
 * Q4_0, and (when llama.cpp's gguf-py is installed, see {@code plugins/gguf/src/test/python})
 * every tensor checked by llama.cpp's own reader and quantizer.
 */
class GgufExportTest {

    private static PluginRegistry plugins;
    private static Path shared;
    private static Path work;

    @BeforeAll
    static void open() throws Exception {
        shared = Fixtures.property("fmsmo.shared").resolve("fixtures");
        if (!Files.isDirectory(shared.resolve("tiny-llama"))) {
            String reason = "skipped: " + shared + " is absent (../shared is not mounted)";
            System.out.println(reason);
            Assumptions.abort(reason);
        }
        plugins = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"));
        work = Fixtures.freshDir("gguf");
    }

    @AfterAll
    static void close() {
        if (plugins != null) {
            plugins.close();
        }
    }

    private static Path export(Path model, String type, String file) {
        ModelLoader loader = new ModelLoader(plugins);
        try (TransformerModel m = loader.load(model, false)) {
            return Exports.export(m, loader.describe(HfConfig.read(model)), Exports.format(plugins, "gguf"),
                    Exports.options(plugins, "gguf", Map.of("gguf_type", type)), work.resolve(file), ProgressListener.NONE);
        }
    }

    private static double perplexity(Path model) {
        Map<String, Object> r = new Evaluator(new ModelLoader(plugins)).evaluate(model,
                new Evaluator.Options(shared.resolve("text/eval.txt"), null, 128, 8, 256, Streaming.OFF).withoutVerify(), ProgressListener.NONE);
        return ((Number) r.get("perplexity")).doubleValue();
    }

    /** Every tensor of two GGUF files, dequantized by the plugin's reader. */
    private static void assertSameTensors(ImportedModel a, ImportedModel b) {
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        for (Map.Entry<String, StoredTensor> e : a.tensors().entrySet()) {
            assertEquals(e.getValue().bytes(), b.tensors().get(e.getKey()).bytes(), e.getKey());
        }
    }

    @Test
    void q8AndQ4FilesReadBackBitExactlyAndEvaluateCloseToTheirSource() throws Exception {
        Path source = shared.resolve("tiny-llama");
        double reference = perplexity(source);
        ExportFormat gguf = Exports.format(plugins, "gguf");
        StringBuilder table = new StringBuilder("type   bytes      perplexity  vs float\n");
        for (String type : new String[] {"f16", "q8_0", "q4_0", "q4_k"}) {
            Path file = export(source, type, "tiny-llama-" + type + ".gguf");
            double ppl = perplexity(file);
            double ratio = ppl / reference - 1;
            table.append(String.format("%-6s %,10d  %10.4f  %+.3f%%%n", type, Files.size(file), ppl, 100 * ratio));
            switch (type) {
                case "f16" -> assertTrue(Math.abs(ratio) < 0.001, "F16 perplexity " + ppl + " vs " + reference);
                case "q8_0" -> assertTrue(Math.abs(ratio) < 0.005, "Q8_0 perplexity " + ppl + " vs " + reference + ": within 0.5%");
                default -> assertTrue(Math.abs(ratio) < 0.25, type + " perplexity " + ppl + " vs " + reference);
            }
            if (!type.equals("q4_k")) { // the block rounding of Q8_0 and Q4_0 is idempotent: reading and writing again changes nothing
                Path back = Exports.importTo(file, gguf, work.resolve("back-" + type));
                Path again = export(back, type, "again-" + type + ".gguf");
                assertSameTensors(gguf.read(file), gguf.read(again));
            }
        }
        System.out.print("tiny-llama as GGUF (float perplexity " + reference + ")\n" + table);
    }

    @Test
    void theRebuiltTokenizerGivesTheSameIds() throws Exception {
        Path file = export(shared.resolve("tiny-llama"), "q8_0", "tokenizer-check.gguf");
        Path back = Exports.importTo(file, Exports.format(plugins, "gguf"), work.resolve("tokenizer-back"));
        String text = Files.readString(shared.resolve("text/eval.txt"));
        try (HfTokenizer a = HfTokenizer.open(shared.resolve("tiny-llama")); HfTokenizer b = HfTokenizer.open(back)) {
            assertArrayEquals(a.encode(text, true), b.encode(text, true));
        }
    }

    @Test
    void gptqCodesAreKeptInQ4_0() throws Exception {
        Path source = shared.resolve("tiny-llama");
        Path fms = work.resolve("gptq-fms");
        Quantization.of(source).method("gptq").recipe("ptq_int8").format("fms").plugins(plugins).output(fms)
                .set(Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group32", "qw_mode", "maxfullperGp"))
                .calibration(CalibrationSource.random(8, 64, 4, 7)).run();
        Path file = export(fms, "q4_0", "gptq.gguf");
        ImportedModel back = Exports.format(plugins, "gguf").read(file);
        int kept = 0;
        int blockAligned = 0;
        try (TransformerModel m = new ModelLoader(plugins).load(fms, false)) {
            for (var l : m.linearLayers()) {
                if (!(l instanceof QLinear q) || !q.isFrozen() || l.inFeatures() % 32 != 0) {
                    continue; // down_proj's 344 columns are not whole blocks: stored as F16
                }
                blockAligned++;
                QuantizedTensor codes = q.frozenWeight();
                float[] expected = codes.dequantize().toFloatArray();
                float[] scale = codes.scale().toFloatArray();
                float[] got = floats(back.tensors().get(l.name() + ".weight"));
                int cols = (int) l.inFeatures();
                for (int i = 0; i < expected.length; i++) {
                    float s = scale[(i / cols) * (cols / 32) + (i % cols) / 32];
                    float s16 = Float.float16ToFloat(Float.floatToFloat16(s));
                    // the same code, with the scale rounded to fp16: w·s16/s exactly, up to float rounding
                    assertEquals(expected[i] / s * s16, got[i], 1e-6f * Math.abs(s16) * 8 + 1e-9f, l.name() + "[" + i + "]");
                }
                kept++;
            }
        }
        assertEquals(24, blockAligned, "q, k, v, o, gate and up of 4 blocks");
        assertEquals(blockAligned, kept, "every block-aligned GPTQ layer keeps its codes");
        double fmsPpl = perplexity(fms);
        double ggufPpl = perplexity(file);
        System.out.printf("GPTQ W4 g32: fms %.4f, GGUF Q4_0 %.4f (%+.3f%%)%n", fmsPpl, ggufPpl, 100 * (ggufPpl / fmsPpl - 1));
        assertTrue(Math.abs(ggufPpl / fmsPpl - 1) < 0.005, "the GGUF runs the GPTQ model: " + ggufPpl + " vs " + fmsPpl);
    }

    private static float[] floats(StoredTensor t) {
        java.nio.FloatBuffer f = t.bytes().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] v = new float[f.remaining()];
        f.get(v);
        return v;
    }
}
