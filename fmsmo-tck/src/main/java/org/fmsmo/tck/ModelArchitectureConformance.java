package org.fmsmo.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.checkpoint.ModelWriter;
import org.fmsmo.core.model.StreamedModel;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.RegisteredProvider;
import org.fmsmo.core.synthetic.SyntheticModel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of a {@link ModelArchitectureProvider}, checked inside a real host: extend this
 * class in the plugin's tests, return the provider and a small {@code config.json} it reads.
 *
 * <p>Checked: the name, description and model types (none taken by another installed
 * architecture); the config is described; a config with any one key removed, or set to a string
 * or to −1, is either still read or refused with an {@link FmsmoException} that names the key
 * (never another exception). For a {@link TransformerSpec}, also: a synthetic checkpoint of
 * exactly the tensors the description implies loads through the registry, computes finite
 * outputs, is written back under the same names and reloads to the same outputs, and (a decoder)
 * gives the same logits streamed block by block. ({@link org.fmsmo.api.arch.BertSpec} encoders get
 * the description checks only.)
 */
public abstract class ModelArchitectureConformance {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_+.-]+");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    /** The provider under test. */
    protected abstract ModelArchitectureProvider provider();

    /** A small {@code config.json} of one of its model types (a few layers, a vocabulary of hundreds). */
    protected abstract ObjectNode config();

    private HfConfig write(ObjectNode config, String name) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Files.writeString(dir.resolve(HfConfig.FILE), config.toPrettyString());
        return HfConfig.read(dir);
    }

    @Test
    void nameDescriptionAndModelTypes() {
        ModelArchitectureProvider p = provider();
        assertTrue(NAME.matcher(p.name()).matches(), "name '" + p.name() + "': letters, digits, -, _, + and . only");
        assertNotNull(p.description(), "description() may be empty, not null");
        assertFalse(p.modelTypes().isEmpty(), "modelTypes() names at least one model_type");
        assertTrue(p.modelTypes().contains(config().get("model_type").asText()), "config()'s model_type is one of modelTypes()");
        try (PluginRegistry others = PluginRegistry.builder().application().build()) {
            for (RegisteredProvider<ModelArchitectureProvider> r : others.providers(ModelArchitectureProvider.class)) {
                if (!r.provider().name().equals(p.name())) {
                    for (String t : p.modelTypes()) {
                        assertFalse(r.provider().modelTypes().contains(t), "model_type '" + t + "' is already read by architecture '"
                                + r.provider().name() + "'");
                    }
                }
            }
        }
    }

    @Test
    void describesItsConfig() throws Exception {
        ArchitectureSpec spec = provider().describe(write(config(), "config"));
        assertNotNull(spec, "describe() returns a description");
        assertNotNull(spec.task(), "the description has a task");
        if (spec instanceof TransformerSpec d && config().has("num_hidden_layers")) {
            assertEquals(config().get("num_hidden_layers").asInt(), d.numLayers(), "one layer entry per num_hidden_layers");
        }
    }

    @Test
    void aMissingOrMistypedKeyIsRefusedByName() throws Exception {
        ObjectNode base = config();
        List<String> keys = new ArrayList<>();
        base.fieldNames().forEachRemaining(keys::add);
        int n = 0;
        for (String key : keys) {
            if (key.equals("model_type")) {
                continue;
            }
            List<ObjectNode> variants = new ArrayList<>();
            variants.add(base.deepCopy().without(key));
            variants.add(base.deepCopy().put(key, "not-a-value"));
            variants.add(base.deepCopy().put(key, -1));
            for (ObjectNode v : variants) {
                HfConfig c = write(v, "bad-" + n++);
                try {
                    ArchitectureSpec s = provider().describe(c);
                    assertNotNull(s, key + ": describe() returned null");
                } catch (FmsmoException e) {
                    assertTrue(e.getMessage().contains(key), "the error for a bad '" + key + "' names it: " + e.getMessage());
                } catch (RuntimeException e) {
                    throw new AssertionError("a bad '" + key + "' (" + v.get(key) + ") must be an FmsmoException naming it, not " + e, e);
                }
            }
        }
    }

    @Test
    void aTransformerLoadsRunsRoundTripsAndStreams() throws Exception {
        ModelArchitectureProvider p = provider();
        ArchitectureSpec spec = p.describe(write(config(), "probe"));
        Assumptions.assumeTrue(spec instanceof TransformerSpec, "the checkpoint checks run for TransformerSpec architectures");
        TransformerSpec d = (TransformerSpec) spec;
        Path model = SyntheticModel.write(work.resolve("model"), config(), d, 11);
        try (PluginRegistry registry = TckHost.registry(ProviderKind.MODEL_ARCHITECTURE, p);
             NDManager m = NDManager.newBaseManager()) {
            ModelLoader loader = new ModelLoader(registry);
            long[] tokens = new long[] {1, 5, 9, 13, 17, 21, 25, 29, 3, 7};
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] %= d.vocabSize();
            }
            NDArray ids = m.create(tokens, new Shape(1, tokens.length));
            float[] logits;
            try (TransformerModel whole = loader.load(model)) {
                assertEquals(d.task(), whole.task(), "the model has the description's task");
                logits = output(whole, ids);
                long width = d.task() == ArchitectureSpec.Task.CAUSAL_LM ? d.vocabSize() : d.hiddenSize();
                assertEquals((long) tokens.length * width, logits.length, "output [1, T, vocab or hidden]");
                for (float v : logits) {
                    assertTrue(Float.isFinite(v), "finite outputs");
                }
                Path copy = ModelWriter.save(whole, work.resolve("written"), Dtype.F32, SyntheticModel.HUB_SHARD_BYTES);
                try (TransformerModel back = loader.load(copy)) {
                    assertEquals(0, maxDiff(logits, output(back, ids)), 1e-6, "written under the names it was read with, it reloads to the same outputs");
                }
            }
            if (d.task() != ArchitectureSpec.Task.CAUSAL_LM) {
                return; // encoders are loaded whole
            }
            try (StreamedModel stream = loader.openStreamed(model, tokens.length); NDManager block = NDManager.newBaseManager()) {
                var in = stream.blockInput(ids, null);
                NDArray x = in.hidden();
                for (int i = 0; i < stream.numBlocks(); i++) {
                    x = stream.runBlock(stream.loadBlock(i, block), x, in.mask());
                }
                Module head = stream.loadHead(block);
                float[] streamed = stream.runHead(head, x).toFloatArray();
                assertEquals(0, maxDiff(logits, streamed), 1e-5, "block by block it computes what the whole model does");
            }
        }
    }

    /** Logits of a causal LM, last hidden states of an encoder. */
    private static float[] output(TransformerModel model, NDArray ids) {
        return model instanceof CausalLM lm ? lm.logits(ids).toFloatArray()
                : ((org.fmsmo.core.model.SentenceEncoder) model).hiddenStates(ids, ids.onesLike()).toFloatArray();
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    /** Parses a config written as JSON text, for subclasses. */
    protected static ObjectNode json(String text) {
        try {
            JsonNode n = JSON.readTree(text);
            return (ObjectNode) n;
        } catch (Exception e) {
            throw new IllegalArgumentException("not a JSON object: " + text, e);
        }
    }
}
