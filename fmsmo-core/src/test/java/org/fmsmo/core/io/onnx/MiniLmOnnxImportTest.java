package org.fmsmo.core.io.onnx;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.core.MiniLm;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.eval.EmbeddingFidelity;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.bert.BertModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 imported from its ONNX file and run by the Java BERT: sentence embeddings must
 * equal those of ONNX Runtime running the original graph (mean pooling and normalisation done
 * here, independently), cosine ≥ 0.99999 for every sentence.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MiniLmOnnxImportTest {

    /** The host's built-in providers only (no checkpoint format plugins): unquantized and native checkpoints. */
    private static final ModelLoader LOADER = new ModelLoader(org.fmsmo.core.plugin.PluginRegistry.builder().application().build());

    @TempDir
    static Path work;

    private Path folder;
    private BertModel model;

    @BeforeAll
    void importModel() throws Exception {
        folder = MiniLm.imported(work);
        model = assertInstanceOf(BertModel.class, LOADER.load(folder));
    }

    @AfterAll
    void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void configComesFromTheGraph() {
        HfConfig c = HfConfig.read(folder);
        assertEquals(6, c.integer("num_hidden_layers"));
        assertEquals(12, c.integer("num_attention_heads"));
        assertEquals(384, c.integer("hidden_size"));
        assertEquals(1536, c.integer("intermediate_size"));
        assertEquals(1e-12, c.number("layer_norm_eps"));
        assertEquals(36, model.linearLayers().size());
        assertEquals("encoder.layer.0.attention.self.query", model.linearLayers().getFirst().name());
        assertTrue(Files.isRegularFile(folder.resolve("1_Pooling/config.json")));
    }

    @Test
    void embeddingsMatchOnnxRuntime() throws Exception {
        List<String> sentences = sentences();
        float[][] java = EmbeddingFidelity.embed(model, sentences, 16, 512, ProgressListener.NONE).vectors();
        float[][] ort = onnxRuntimeEmbeddings(sentences);
        EmbeddingFidelity.Result r = EmbeddingFidelity.compare(java, ort);
        System.out.printf("MiniLM Java vs ONNX Runtime over %d sentences: mean cosine %.9f, min %.9f%n", sentences.size(), r.mean(), r.min());
        assertTrue(r.min() >= 0.99999, "min cosine to ONNX Runtime " + r.min() + " (mean " + r.mean() + ") over " + sentences.size());
    }

    /** The reference: ONNX Runtime on the original file, one sentence at a time (no padding), pooled here. */
    private float[][] onnxRuntimeEmbeddings(List<String> sentences) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[][] out = new float[sentences.size()][];
        try (OrtSession session = env.createSession(work.resolve(MiniLm.ONNX).toString(), new OrtSession.SessionOptions())) {
            for (int i = 0; i < sentences.size(); i++) {
                long[] ids = model.tokenizer().encode(sentences.get(i), true);
                long[][] mask = {new long[ids.length]};
                java.util.Arrays.fill(mask[0], 1L);
                Map<String, ai.onnxruntime.OnnxTensor> inputs = new HashMap<>();
                inputs.put("input_ids", ai.onnxruntime.OnnxTensor.createTensor(env, new long[][] {ids}));
                inputs.put("attention_mask", ai.onnxruntime.OnnxTensor.createTensor(env, mask));
                inputs.put("token_type_ids", ai.onnxruntime.OnnxTensor.createTensor(env, new long[1][ids.length]));
                try (OrtSession.Result result = session.run(inputs)) {
                    float[][] hidden = ((float[][][]) result.get(0).getValue())[0];
                    float[] mean = new float[hidden[0].length];
                    for (float[] row : hidden) {
                        for (int j = 0; j < mean.length; j++) {
                            mean[j] += row[j] / hidden.length;
                        }
                    }
                    out[i] = mean; // cosine is scale-free: no need to normalise
                } finally {
                    inputs.values().forEach(ai.onnxruntime.OnnxTensor::close);
                }
            }
        }
        return out;
    }

    private static List<String> sentences() throws Exception {
        Path shared = Path.of(System.getProperty("fmsmo.shared", "../../shared"), "fixtures", "text", "sentences.txt");
        List<String> s = new ArrayList<>();
        if (Files.isRegularFile(shared)) {
            s.addAll(Files.readAllLines(shared).stream().filter(l -> !l.isBlank()).toList());
        }
        // Always also some of our own, so the test means something without ../shared.
        s.addAll(List.of("The quick brown fox jumps over the lazy dog.", "Quantization keeps models small.",
                "Call me Ishmael.", "A sentence with ünïcödé and numbers 12345 and punctuation!?",
                "short", "This sentence is a good deal longer than the others, so that the padded batches have rows of"
                        + " very different lengths and the attention mask matters for the shorter ones."));
        return s;
    }

    @Test
    void truncatedOnnxIsAClearError() throws Exception {
        Path cut = work.resolve("cut.onnx");
        byte[] all = Files.readAllBytes(work.resolve(MiniLm.ONNX));
        Files.write(cut, java.util.Arrays.copyOf(all, all.length / 2));
        var e = org.junit.jupiter.api.Assertions.assertThrows(org.fmsmo.api.FmsmoException.class,
                () -> OnnxBertImporter.importModel(cut, work.resolve(MiniLm.TOKENIZER), work.resolve("never"), 0));
        assertEquals(org.fmsmo.api.ErrorCode.CORRUPT_INPUT, e.code());
        assertTrue(e.getMessage().contains("cut.onnx") && e.getMessage().contains("truncated"), e.getMessage());
        assertFalse(Files.exists(work.resolve("never")), "nothing written");
    }
}
