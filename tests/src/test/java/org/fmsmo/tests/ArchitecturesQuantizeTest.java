package org.fmsmo.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GPTQ W4 (group 4, which divides every width of these models: 64, 96, 128, 172) and FP8
 * (dynamic) on every built-in architecture's transformers-made fixture, through the pipeline the
 * CLI runs (decoders streamed block by block, encoders whole), written as compressed-tensors and
 * loaded back by the format's reader. The reloaded model's linears are the quantized ones and
 * its logits stay near transformers' float logits: relative L2 error under 0.35 for W4 and 0.15
 * for FP8 W8A8 (dynamic per-token activations) on these random tiny models. Measured (2026-11):
 * W4 0.0016 (granite) to 0.25 (gemma3), FP8 0.0007 to 0.12 (gemma3); the Gemmas, whose
 * unit-offset norms and sandwich amplify small changes, are the most sensitive.
 */
class ArchitecturesQuantizeTest {

    private static final Path ARCHS = Path.of("../fmsmo-core/src/test/resources/archs");

    static Stream<Arguments> cases() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(ARCHS), "no architecture fixtures at " + ARCHS.toAbsolutePath());
        try (Stream<Path> dirs = Files.list(ARCHS)) {
            return dirs.map(p -> p.getFileName().toString())
                    .sorted()
                    .flatMap(a -> Stream.of(Arguments.of(a, "gptq"), Arguments.of(a, "fp8")))
                    .toList().stream();
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void quantizesWritesAndReloads(String arch, String method) throws Exception {
        Path model = ARCHS.resolve(arch);
        Path out = Fixtures.freshDir("arch-" + arch + "-" + method).resolve("out");
        Map<String, Object> settings = method.equals("gptq")
                ? Map.of("nbits_w", 4, "nbits_a", 32, "qw_spec", "int4-sym-group4", "qw_mode", "maxfullperGp")
                : Map.of();
        try (PluginRegistry registry = PluginRegistry.standard(Fixtures.distribution().resolve("plugins"))) {
            QuantizationResult r = Quantization.of(model).method(method).recipe(method.equals("gptq") ? "ptq_int8" : "fp8_dynamic")
                    .set(settings).format("compressed-tensors").output(out).plugins(registry)
                    .calibration(CalibrationSource.random(8, 24, 4, 7)).run();
            boolean decoder = new ModelLoader(registry).describe(org.fmsmo.core.hf.HfConfig.read(model)).task()
                    == org.fmsmo.api.arch.ArchitectureSpec.Task.CAUSAL_LM;
            assertTrue(!decoder || r.streamed(), arch + ": decoders stream; not streamed because " + r.whyNotStreamed());
            String written = new ObjectMapper().readTree(out.resolve("config.json").toFile()).at("/quantization_config/quant_method").asText();
            assertEquals("compressed-tensors", written);
            try (SafetensorsFile ref = SafetensorsFile.open(model.resolve("reference.safetensors"));
                 TransformerModel back = new ModelLoader(registry).load(out, false);
                 NDManager m = NDManager.newBaseManager()) {
                int quantized = 0;
                for (LinearLayer l : back.linearLayers()) {
                    if (!back.outputHeads().contains(l.name())) {
                        quantized++;
                        assertTrue(r.report().layers().stream().anyMatch(x -> x.name().equals(l.name())), l.name() + " was quantized");
                    }
                }
                assertEquals(r.report().layers().size(), quantized, "every quantized layer reloads");
                long[] shape = ref.info("input_ids").shape();
                NDArray ids = m.create(ref.longs("input_ids"), new Shape(shape));
                float[] logits = decoder ? ((CausalLM) back).logits(ids).toFloatArray()
                        : ((org.fmsmo.core.model.SentenceEncoder) back).hiddenStates(ids, m.create(ref.longs("attention_mask"), new Shape(shape)))
                                .toFloatArray();
                float[] expected = ref.floats(decoder ? "logits" : "last_hidden_state");
                double err = 0;
                double norm = 0;
                for (int i = 0; i < expected.length; i++) {
                    assertTrue(Float.isFinite(logits[i]), "finite logits");
                    err += (logits[i] - expected[i]) * (double) (logits[i] - expected[i]);
                    norm += expected[i] * (double) expected[i];
                }
                double rel = Math.sqrt(err / norm);
                System.out.printf("%s %s: relative L2 error of the outputs %.4f%n", arch, method, rel);
                assertTrue(rel > 0, "quantization changed the model");
                assertTrue(rel < (method.equals("gptq") ? 0.35 : 0.15), arch + " " + method + ": relative logits error " + rel);
            }
        }
    }
}
