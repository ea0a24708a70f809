package org.fmsmo.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every built-in architecture against Hugging Face transformers: tiny random models that
 * transformers 5.17 built, saved and ran ({@code src/test/resources/archs}, made by
 * {@code src/test/python/make_arch_fixtures.sh}). The host loads each folder by its
 * {@code model_type} through the registry and must reproduce transformers' logits (decoders) or
 * last hidden states (encoders, padded rows included) to 1e-4 absolute.
 *
 * <p>{@code -Dfmsmo.archs=DIR} runs the same checks on another set, e.g. the wider variant the
 * script makes with {@code wide}.
 */
class ArchitectureReferenceTest {

    private static final double TOLERANCE = 1e-4;
    /** In the fixtures, not run by the host yet: loading them must fail with a line that names the type. */
    private static final List<String> NOT_YET = List.of();

    private static final PluginRegistry REGISTRY = PluginRegistry.builder().application().build();
    private static final ModelLoader LOADER = new ModelLoader(REGISTRY);

    static Stream<String> architectures() throws IOException {
        Path root = root();
        Assumptions.assumeTrue(Files.isDirectory(root), "no architecture fixtures at " + root);
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList().stream();
        }
    }

    private static Path root() {
        String dir = System.getProperty("fmsmo.archs");
        return dir != null ? Path.of(dir) : Path.of("src/test/resources/archs");
    }

    @AfterAll
    static void close() {
        REGISTRY.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void matchesTransformers(String arch) {
        Path dir = root().resolve(arch);
        check(arch, dir, dir);
    }

    /**
     * The same models with their config rewritten in transformers 4's form, as checkpoints
     * published before transformers 5 have it: {@code rope_theta} at the top, the scaling in
     * {@code rope_scaling}, Phi-3's {@code partial_rotary_factor} at the top, Gemma 3's local
     * base in {@code rope_local_base_freq}, Qwen 3 MoE's {@code num_experts}.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"llama3", "mistral", "phi3", "gemma3", "qwen3_moe"})
    void readsTheTransformers4ConfigForm(String arch, @org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path dir = root().resolve(arch);
        Assumptions.assumeTrue(Files.isDirectory(dir), "no fixture " + dir);
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        var rope = (com.fasterxml.jackson.databind.node.ObjectNode) config.remove("rope_parameters");
        if (rope.has("sliding_attention")) {
            config.set("rope_theta", rope.get("full_attention").get("rope_theta"));
            config.set("rope_local_base_freq", rope.get("sliding_attention").get("rope_theta"));
        } else {
            config.set("rope_theta", rope.remove("rope_theta"));
            if (rope.has("partial_rotary_factor")) {
                config.set("partial_rotary_factor", rope.remove("partial_rotary_factor"));
            }
            if (!rope.get("rope_type").asText().equals("default")) {
                config.set("rope_scaling", rope);
            }
        }
        config.remove("layer_types");
        if (config.has("num_local_experts") && arch.equals("qwen3_moe")) {
            config.set("num_experts", config.remove("num_local_experts"));
        }
        Path copy = Files.createDirectories(tmp.resolve(arch));
        Files.writeString(copy.resolve("config.json"), json.writeValueAsString(config));
        Files.copy(dir.resolve("model.safetensors"), copy.resolve("model.safetensors"));
        check(arch, copy, dir);
    }

    /**
     * A checkpoint saved as the bare base model (GPT-2's hub upload: {@code h.0.attn…}, not
     * {@code transformer.h.0.attn…}; a {@code LlamaModel}: {@code layers.0…}) loads to the same outputs.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource({"gpt2, transformer.", "llama3, model."})
    void readsABareModelsNamesWithoutTheBasePrefix(String arch, String prefix, @org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path dir = root().resolve(arch);
        Assumptions.assumeTrue(Files.isDirectory(dir), "no fixture " + dir);
        Path copy = Files.createDirectories(tmp.resolve(arch));
        Files.copy(dir.resolve("config.json"), copy.resolve("config.json"));
        List<org.fmsmo.core.io.safetensors.TensorData> renamed = new java.util.ArrayList<>();
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            for (String name : f.tensors().keySet()) {
                assertTrue(name.startsWith(prefix), name);
                renamed.add(org.fmsmo.core.io.safetensors.TensorData.ofFloats(name.substring(prefix.length()),
                        org.fmsmo.core.io.safetensors.Dtype.F32, f.info(name).shape(), f.floats(name)));
            }
        }
        org.fmsmo.core.io.safetensors.SafetensorsWriter.writeFile(copy.resolve("model.safetensors"), renamed, java.util.Map.of("format", "pt"));
        check(arch, copy, dir);
    }

    /**
     * What the host does not run is refused before any weight is read, with the error code for
     * an unsupported feature and a message that names the config key.
     */
    @ParameterizedTest(name = "{0}: {1}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
            "phi3      | rope_parameters          | {\"rope_type\": \"longrope\", \"rope_theta\": 10000.0}",
            "llama3    | rope_parameters          | {\"rope_type\": \"yarn\", \"rope_theta\": 10000.0, \"factor\": 4.0}",
            "gemma2    | hidden_activation        | \"relu\"",
            "mistral   | hidden_act               | \"relu\"",
            "qwen3_moe | num_experts_per_tok      | 9",
            "gpt2      | scale_attn_by_inverse_layer_idx | true"})
    void anUnsupportedFeatureIsRefusedNamingItsKey(String arch, String key, String value, @org.junit.jupiter.api.io.TempDir Path tmp)
            throws IOException {
        Path dir = root().resolve(arch);
        Assumptions.assumeTrue(Files.isDirectory(dir), "no fixture " + dir);
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        config.set(key, json.readTree(value));
        Path copy = Files.createDirectories(tmp.resolve(arch));
        Files.writeString(copy.resolve("config.json"), json.writeValueAsString(config));
        Files.copy(dir.resolve("model.safetensors"), copy.resolve("model.safetensors"));
        var e = org.junit.jupiter.api.Assertions.assertThrows(org.fmsmo.api.FmsmoException.class, () -> LOADER.load(copy, false).close());
        assertTrue(e.getMessage().contains("'" + key), e.getMessage());
        assertTrue(e.code() == org.fmsmo.api.ErrorCode.UNSUPPORTED_SPEC || e.code() == org.fmsmo.api.ErrorCode.CORRUPT_INPUT, e.code() + ": "
                + e.getMessage());
    }

    private static void check(String arch, Path dir, Path referenceDir) {
        if (NOT_YET.contains(arch)) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(org.fmsmo.api.FmsmoException.class, () -> LOADER.load(dir, false));
            assertTrue(e.getMessage().contains("model_type '"), e.getMessage());
            return;
        }
        try (SafetensorsFile ref = SafetensorsFile.open(referenceDir.resolve("reference.safetensors"));
             TransformerModel model = LOADER.load(dir, false);
             NDManager m = NDManager.newBaseManager()) {
            long[] shape = ref.info("input_ids").shape();
            NDArray ids = m.create(ref.longs("input_ids"), new Shape(shape));
            NDArray mask = m.create(ref.longs("attention_mask"), new Shape(shape));
            String key;
            NDArray out;
            if (model instanceof CausalLM lm) {
                key = "logits";
                out = lm.logits(ids);
            } else {
                key = "last_hidden_state";
                out = ((SentenceEncoder) model).hiddenStates(ids, mask);
            }
            float[] expected = ref.floats(key);
            float[] actual = out.toFloatArray();
            assertEquals(expected.length, actual.length, key + " size");
            double worst = 0;
            int at = -1;
            for (int i = 0; i < expected.length; i++) {
                double d = Math.abs(expected[i] - actual[i]);
                if (!(d <= worst)) {
                    worst = d;
                    at = i;
                }
            }
            assertTrue(worst <= TOLERANCE, arch + ": max |Δ" + key + "| = " + worst + " at " + at + " (expected " + (at < 0 ? "" : expected[at])
                    + ", found " + (at < 0 ? "" : actual[at]) + ")");
        }
    }
}
