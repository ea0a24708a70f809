package org.fmsmo.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.core.cli.Main;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.model.transformer.TransformerForCausalLM;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model folders built here: the Llama variants (GQA, tied head, Qwen2 biases, BF16 weights,
 * shards), layer swapping, and every kind of bad input the loader must refuse clearly.
 */
class ModelLoaderTest {

    /** The host's built-in providers only (no checkpoint format plugins): unquantized and native checkpoints. */
    private static final ModelLoader LOADER = new ModelLoader(org.fmsmo.core.plugin.PluginRegistry.builder().application().build());

    private static final ModelShape TINY = new ModelShape("tiny", "llama", "LlamaForCausalLM", 64, 16, 24, 2, 4, 2, false, false, 10000.0, 2048,
            1e-5, null);

    @TempDir
    Path tmp;

    @Test
    void loadsAShardedBf16LlamaAndRunsIt() {
        Path dir = SyntheticModel.write(tmp.resolve("m"), TINY, 1, 4096);
        assertTrue(Files.exists(dir.resolve(SafetensorsWriter.INDEX)), "sharded");
        try (TransformerModel m = LOADER.load(dir, false); NDManager nd = NDManager.newBaseManager()) {
            assertEquals(TINY.parameters(), m.parameterCount());
            NDArray logits = assertInstanceOf(TransformerForCausalLM.class, m).logits(nd.create(new long[] {1, 5, 9, 3}, new Shape(1, 4)));
            assertEquals(new Shape(1, 4, 64), logits.getShape());
            assertFalse(Float.isNaN(logits.sum().getFloat()));
        }
    }

    /** Forward passes leave nothing behind: not in the model's manager, not in the caller's. */
    @Test
    void repeatedForwardsKeepArrayCountsFlat() {
        Path dir = SyntheticModel.write(tmp.resolve("m"), TINY, 1, Long.MAX_VALUE);
        try (TransformerModel m = LOADER.load(dir, false); NDManager caller = NDManager.newBaseManager()) {
            CausalLM lm = (CausalLM) m;
            int modelArrays = m.manager().getManagedArrays().size();
            for (int i = 0; i < 50; i++) {
                try (NDManager step = caller.newSubManager()) {
                    lm.logits(step.create(new long[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3)));
                    assertEquals(2, step.getManagedArrays().size(), "the input and the logits only");
                }
            }
            assertEquals(modelArrays, m.manager().getManagedArrays().size(), "nothing accumulates in the model's manager");
        }
    }

    @Test
    void tiedHeadSharesTheEmbedding() throws IOException {
        Path dir = writeLlama("tied", c -> c.put("tie_word_embeddings", true), Map.of(), List.of("lm_head.weight"));
        try (TransformerModel m = LOADER.load(dir, false)) {
            LinearLayer head = m.linear("lm_head");
            assertSame(m.parameters().get("model.embed_tokens.weight"), head.weight());
            assertEquals(TINY.parameters() - 64 * 16, m.parameterCount(), "the tied weight counts once");
        }
    }

    @Test
    void qwen2BiasesAreLoadedAndUsed() throws IOException {
        Random r = new Random(1);
        Map<String, float[]> zeroBias = Map.of();
        Path llama = writeLlama("llama", c -> { }, zeroBias, List.of());
        Path qwenZero = writeLlama("qwen0", c -> c.put("model_type", "qwen2"), biases(i -> 0f), List.of());
        Path qwen = writeLlama("qwen", c -> c.put("model_type", "qwen2"), biases(i -> (float) r.nextGaussian()), List.of());
        try (TransformerModel a = LOADER.load(llama, false); TransformerModel b = LOADER.load(qwenZero, false);
             TransformerModel c = LOADER.load(qwen, false); NDManager nd = NDManager.newBaseManager()) {
            assertTrue(b.linear("model.layers.0.self_attn.q_proj").bias().isPresent());
            assertFalse(b.linear("model.layers.0.self_attn.o_proj").bias().isPresent(), "Qwen2 has no o_proj bias");
            NDArray ids = nd.create(new long[] {4, 8, 15, 16, 23}, new Shape(1, 5));
            NDArray la = ((CausalLM) a).logits(ids);
            assertTrue(la.allClose(((CausalLM) b).logits(ids), 1e-6, 1e-6, false), "zero biases change nothing");
            assertFalse(la.allClose(((CausalLM) c).logits(ids), 1e-3, 1e-3, false), "real biases change the logits");
        }
        Path missing = writeLlama("qwen-missing", c -> c.put("model_type", "qwen2"), Map.of(), List.of());
        FmsmoException e = assertThrows(FmsmoException.class, () -> LOADER.load(missing, false));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj.bias"), e.getMessage());
    }

    @Test
    void layersCanBeSwappedAndRestored() {
        Path dir = SyntheticModel.write(tmp.resolve("m"), TINY, 1, Long.MAX_VALUE);
        try (TransformerModel m = LOADER.load(dir, false); NDManager nd = NDManager.newBaseManager()) {
            CausalLM lm = (CausalLM) m;
            NDArray ids = nd.create(new long[] {1, 2, 3}, new Shape(1, 3));
            NDArray before = lm.logits(ids);
            String name = "model.layers.1.mlp.down_proj";
            LinearLayer original = m.linear(name);
            m.replace(name, new LoudLinear(original));
            assertInstanceOf(LoudLinear.class, m.linearLayers().get(13));
            assertFalse(before.allClose(lm.logits(ids), 0, 0, false));
            m.replace(name, original);
            assertTrue(before.allClose(lm.logits(ids), 0, 0, false));
            FmsmoException unknown = assertThrows(FmsmoException.class, () -> m.linear("model.layers.9.mlp.down_proj"));
            assertEquals(ErrorCode.UNKNOWN_NAME, unknown.code());
            assertThrows(FmsmoException.class, () -> m.replace("model.layers.0.mlp.up_proj", original), "shape mismatch refused");
        }
    }

    @Test
    void unknownModelTypeNamesTheFileAndTheSupportedOnes() throws IOException {
        Path dir = writeLlama("mamba", c -> c.put("model_type", "mamba"), Map.of(), List.of());
        FmsmoException e = assertThrows(FmsmoException.class, () -> LOADER.load(dir, false));
        assertEquals(ErrorCode.UNKNOWN_NAME, e.code());
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("'mamba'") && e.getMessage().contains("llama"),
                e.getMessage());
    }

    @Test
    void missingTokenizerFailsBeforeWeightsAreRead() throws IOException {
        Path dir = SyntheticModel.write(tmp.resolve("m"), TINY, 1, Long.MAX_VALUE);
        Files.delete(dir.resolve("tokenizer.json"));
        FmsmoException e = assertThrows(FmsmoException.class, () -> LOADER.load(dir, true));
        assertEquals(ErrorCode.CORRUPT_INPUT, e.code());
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains(dir.toString()), e.getMessage());
    }

    @Test
    void wrongShapeMissingTensorMissingShardAndBadConfigAreClearErrors() throws IOException {
        Path wrong = writeLlama("wrong", c -> c.put("intermediate_size", 25), Map.of(), List.of());
        assertMessage(wrong, "model.layers.0.mlp.gate_proj.weight", "expected shape [25, 16]", "found [24, 16]");

        Path missing = writeLlama("missing", c -> { }, Map.of(), List.of("model.norm.weight"));
        assertMessage(missing, "'model.norm.weight'", "missing");

        Path sharded = SyntheticModel.write(tmp.resolve("sharded"), TINY, 1, 4096);
        Files.delete(sharded.resolve("model-00002-of-" + shardCount(sharded) + ".safetensors"));
        assertMessage(sharded, "model-00002-of-", "missing");

        Path badJson = SyntheticModel.write(tmp.resolve("badjson"), TINY, 1, Long.MAX_VALUE);
        Files.writeString(badJson.resolve("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": ");
        assertMessage(badJson, "config.json", "not valid JSON");

        Path noKey = writeLlama("nokey", c -> c.remove("hidden_size"), Map.of(), List.of());
        assertMessage(noKey, "config.json", "'hidden_size'", "missing");

        Path badHeads = writeLlama("heads", c -> c.put("num_key_value_heads", 3), Map.of(), List.of());
        assertMessage(badHeads, "num_key_value_heads", "must divide");

        // valid JSON of the right type, impossible values: refused by range (they gave NaN logits and exit 0)
        assertMessage(writeLlama("theta", c -> c.put("rope_theta", -1), Map.of(), List.of()), "'rope_theta'", "must be in (0.0,", "-1");
        assertMessage(writeLlama("eps", c -> c.put("rms_norm_eps", 0), Map.of(), List.of()), "'rms_norm_eps'", "must be in (0.0, 1.0)");
        assertMessage(writeLlama("scaling", c -> c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", -8), Map.of(), List.of()),
                "'rope_scaling'", "factor must be a positive number");

        Path truncated = SyntheticModel.write(tmp.resolve("trunc"), TINY, 1, Long.MAX_VALUE);
        Path file = truncated.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 100));
        assertMessage(truncated, "model.safetensors");
    }

    @Test
    void evalCommandFailsWithAnErrorLineAndExitStatus() throws IOException {
        Path dir = writeLlama("mamba", c -> c.put("model_type", "mamba"), Map.of(), List.of());
        Path text = Files.writeString(tmp.resolve("t.txt"), "some text");
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"eval", "--model", dir.toString(), "--data", text.toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertEquals(ErrorCode.UNKNOWN_NAME.exitStatus(), status);
        assertTrue(err.toString().startsWith("error: ") && err.toString().contains("mamba"), err.toString());
    }

    private void assertMessage(Path dir, String... parts) {
        FmsmoException e = assertThrows(FmsmoException.class, () -> LOADER.load(dir, false));
        assertEquals(ErrorCode.CORRUPT_INPUT, e.code(), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
        }
    }

    private static String shardCount(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return String.format("%05d", files.filter(f -> f.getFileName().toString().startsWith("model-")).count());
        }
    }

    private static Map<String, float[]> biases(java.util.function.IntFunction<Float> value) {
        Map<String, float[]> b = new java.util.HashMap<>();
        for (int l = 0; l < TINY.layers(); l++) {
            for (String p : new String[] {"q_proj", "k_proj", "v_proj"}) {
                int n = p.equals("q_proj") ? TINY.hidden() : TINY.hidden() / TINY.heads() * TINY.kvHeads();
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = value.apply(i);
                }
                b.put("model.layers." + l + ".self_attn." + p + ".bias", v);
            }
        }
        return b;
    }

    /**
     * A small F32 Llama with deterministic weights; {@code edit} changes config.json, {@code extra}
     * adds tensors, {@code drop} removes some.
     */
    private Path writeLlama(String name, Consumer<ObjectNode> edit, Map<String, float[]> extra, List<String> drop) throws IOException {
        Path synthetic = SyntheticModel.write(tmp.resolve(name + "-src"), TINY, 1, Long.MAX_VALUE);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(Files.readString(synthetic.resolve("config.json")));
        edit.accept(config);
        List<TensorData> tensors = new ArrayList<>();
        try (var st = org.fmsmo.core.io.safetensors.SafetensorsFile.open(synthetic.resolve("model.safetensors"))) {
            for (var e : st.tensors().entrySet()) {
                if (!drop.contains(e.getKey())) {
                    tensors.add(TensorData.ofFloats(e.getKey(), Dtype.F32, e.getValue().shape(), st.floats(e.getKey())));
                }
            }
        }
        extra.forEach((n, v) -> tensors.add(TensorData.ofFloats(n, Dtype.F32, new long[] {v.length}, v)));
        return SafetensorsWriter.writeModel(tmp.resolve(name), tensors, Map.of(), Long.MAX_VALUE, Map.of(),
                Map.of("config.json", config.toPrettyString()));
    }

    /** A stand-in layer that amplifies its output: enough to see that a swap takes effect. */
    private record LoudLinear(LinearLayer base) implements LinearLayer {
        public String name() {
            return base.name();
        }

        public long inFeatures() {
            return base.inFeatures();
        }

        public long outFeatures() {
            return base.outFeatures();
        }

        public NDArray weight() {
            return base.weight();
        }

        public Optional<NDArray> bias() {
            return base.bias();
        }

        public NDArray forward(NDArray x) {
            return base.forward(x).mul(1000);
        }
    }
}
