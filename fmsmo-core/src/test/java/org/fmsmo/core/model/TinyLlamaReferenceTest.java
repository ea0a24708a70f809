package org.fmsmo.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.SharedFixtures;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.Perplexity;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.model.transformer.TransformerForCausalLM;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The Java Llama forward against the fixture's references, which an independent PyTorch
 * implementation produced: logits of three sentences (max abs error ≤ 1e-4), their token ids
 * (exact) and the perplexity of eval.txt (relative error ≤ 1e-4).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TinyLlamaReferenceTest {

    /** The host's built-in providers only (no checkpoint format plugins): unquantized and native checkpoints. */
    private static final ModelLoader LOADER = new ModelLoader(org.fmsmo.core.plugin.PluginRegistry.builder().application().build());

    private Path dir;
    private JsonNode reference;
    private TransformerForCausalLM model;

    @BeforeAll
    void load() throws Exception {
        // Skipping here would hide the reason (JUnit reports no tests at all); each test skips in @BeforeEach instead.
        dir = SharedFixtures.path("tiny-llama");
        if (Files.isDirectory(dir)) {
            reference = new ObjectMapper().readTree(Files.readString(dir.resolve("reference.json")));
            model = assertInstanceOf(TransformerForCausalLM.class, LOADER.load(dir));
        }
    }

    @BeforeEach
    void requireFixture() {
        SharedFixtures.require("tiny-llama");
    }

    @AfterAll
    void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void structureMatchesTheConfig() {
        assertEquals(988_288, model.parameterCount());
        assertEquals(29, model.linearLayers().size()); // 4 × 7 + lm_head
        assertEquals("model.layers.0.self_attn.q_proj", model.linearLayers().getFirst().name());
        assertEquals("lm_head", model.linearLayers().getLast().name());
    }

    @Test
    void tokenizerAndLogitsMatchTheReference() {
        try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < reference.get("sequences").size(); i++) {
                long[] expectedIds = ref.longs("seq" + i + ".input_ids");
                long[] ids = model.tokenizer().encode(reference.get("sequences").get(i).asText(), true);
                assertArrayEquals(expectedIds, ids, "token ids of sequence " + i);
                float[] expected = ref.floats("seq" + i + ".logits");
                float[] actual = model.logits(m.create(ids, new Shape(1, ids.length))).toFloatArray();
                assertEquals(expected.length, actual.length);
                double maxErr = 0;
                for (int j = 0; j < expected.length; j++) {
                    maxErr = Math.max(maxErr, Math.abs(expected[j] - actual[j]));
                }
                assertTrue(maxErr <= 1e-4, "sequence " + i + ": max abs logit error " + maxErr + " > 1e-4");
            }
        }
    }

    @Test
    void perplexityOfEvalTextMatchesTheReference() throws Exception {
        JsonNode p = reference.get("perplexity");
        String text = Files.readString(dir.resolve(p.get("text").asText()).normalize());
        long[] ids = model.tokenizer().encode(text, false);
        Perplexity.Result r = Perplexity.evaluate(model, ids, p.get("window").asInt(), 16, ProgressListener.NONE);
        assertEquals(p.get("tokens_scored").asLong(), r.tokens());
        double expected = p.get("value").asDouble();
        assertEquals(expected, r.perplexity(), expected * 1e-4, "perplexity");
    }

    @Test
    void batchedAndSingleForwardsAgree() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[] a = model.tokenizer().encode("Call me Ishmael. Some years ago", true);
            long[] both = new long[2 * a.length];
            System.arraycopy(a, 0, both, 0, a.length);
            System.arraycopy(a, 0, both, a.length, a.length);
            NDArray one = model.logits(m.create(a, new Shape(1, a.length)));
            NDArray two = model.logits(m.create(both, new Shape(2, a.length)));
            assertTrue(two.get(1).expandDims(0).allClose(one, 1e-5, 1e-5, false));
        }
    }
}
