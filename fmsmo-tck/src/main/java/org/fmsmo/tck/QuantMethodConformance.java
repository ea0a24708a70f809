package org.fmsmo.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.recipe.ConfigSchema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of a {@link QuantMethodProvider}, checked inside a real host: extend this class in
 * the plugin's tests and return the provider. The method quantizes a tiny Llama checkpoint of real
 * structure (2 blocks, grouped-query attention) through the same pipeline the CLI runs, with
 * random calibration tokens; override {@link #recipe()} and {@link #settings()} when the method
 * needs more than the defaults, and {@link #training} for a training method.
 *
 * <p>Checked: the name and description; {@code create()} gives a fresh method; the declared config
 * keys are well formed and clash with no host key; every planned layer ends frozen and reported;
 * the written model reloads and computes finite logits; progress {@code begin}/{@code end} pair
 * up; a cancelled run stops with a {@code CancellationException} and leaves no output.
 */
public abstract class QuantMethodConformance {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_+.-]+");

    @TempDir
    Path work;

    /** The provider under test. */
    protected abstract QuantMethodProvider provider();

    /** The recipe the conformance runs use. */
    /** Quantizer modes the method wraps with that its plugin provides too (the host needs them to reload the output); none by default. */
    protected List<org.fmsmo.api.quant.QuantizerProvider> quantizers() {
        return List.of();
    }

    private PluginRegistry registry() {
        return TckHost.registry(() -> PluginRegistry.builder().application(),
                java.util.Map.of(ProviderKind.QUANT_METHOD, List.of(provider()), ProviderKind.QUANTIZER, quantizers()));
    }

    protected String recipe() {
        return "ptq_int8";
    }

    /** Config overrides for the conformance runs. */
    protected Map<String, Object> settings() {
        return Map.of();
    }

    /**
     * What a training method learns from; null (the default) for methods that do not train. The
     * kit's model has a word-level tokenizer ({@code w0 … w255}): {@link #wordText} writes text it reads.
     */
    protected org.fmsmo.core.pipeline.TrainingSetup training(Path work) throws java.io.IOException {
        return null;
    }

    /** {@code words} random words of the kit model's vocabulary, 16 to a line, in a new file under {@code dir}. */
    protected static Path wordText(Path dir, int words, long seed) throws java.io.IOException {
        StringBuilder text = new StringBuilder();
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < words; i++) {
            text.append('w').append(3 + r.nextInt(TckHost.TINY_LLAMA.vocab() - 3)).append(i % 16 == 15 ? '\n' : ' ');
        }
        return Files.writeString(Files.createTempFile(dir, "words-", ".txt"), text);
    }

    private Quantization run(PluginRegistry registry, Path model, Path out) throws java.io.IOException {
        Quantization q = Quantization.of(model).method(provider().name()).format("fms").recipe(recipe()).set(settings()).output(out)
                .plugins(registry).calibration(CalibrationSource.random(4, 16, 2, 3));
        org.fmsmo.core.pipeline.TrainingSetup t = training(work);
        return t == null ? q : q.training(t);
    }

    @Test
    void nameAndDescriptionAreUsable() {
        QuantMethodProvider p = provider();
        assertNotNull(p.name(), "name()");
        assertTrue(NAME.matcher(p.name()).matches(), "name '" + p.name() + "': letters, digits, -, _, + and . only");
        assertNotNull(p.description(), "description() may be empty, not null");
    }

    @Test
    void createGivesANewMethodEachTime() {
        assertNotSame(provider().create(), provider().create(), "a method holds a run's state: create() must not share one");
    }

    @Test
    void configKeysAreWellFormedAndTheirOwn() {
        List<ConfigKeySpec> keys = provider().configKeys();
        assertNotNull(keys, "configKeys() may be empty, not null");
        Set<String> names = new HashSet<>();
        for (ConfigKeySpec k : keys) {
            assertTrue(names.add(k.name()), "key '" + k.name() + "' declared twice");
        }
        ConfigSchema.core().with(provider().name(), keys); // throws naming a host key it would shadow
    }

    @Test
    void quantizesEveryPlannedLayerAndTheOutputReloads() throws Exception {
        Path model = TckHost.tinyLlama(work);
        Path out = work.resolve("quantized");
        try (PluginRegistry registry = registry()) {
            RecordingProgress progress = new RecordingProgress(false);
            QuantizationResult r = run(registry, model, out).progress(progress).run();
            QuantReport report = r.report();
            assertFalse(report.layers().isEmpty(), "the report lists the quantized layers");
            assertEquals(0, progress.open, "every progress begin() has its end()");
            try (TransformerModel back = new ModelLoader(registry).load(out)) {
                for (QuantReport.LayerResult l : report.layers()) {
                    LinearLayer layer = back.linear(l.name());
                    assertTrue(layer instanceof LayerWrapper w && w.isFrozen(), l.name() + " is frozen in the written model");
                }
                try (NDManager m = NDManager.newBaseManager()) {
                    NDArray ids = m.create(new long[] {1, 5, 9, 13, 17, 21, 25, 29}, new Shape(1, 8));
                    float[] logits = ((CausalLM) back).logits(ids).toFloatArray();
                    for (float v : logits) {
                        assertTrue(Float.isFinite(v), "finite logits from the quantized model");
                    }
                }
            }
        }
    }

    @Test
    void aCancelledRunStopsAndLeavesNoOutput() throws Exception {
        Path model = TckHost.tinyLlama(work);
        Path out = work.resolve("cancelled");
        try (PluginRegistry registry = registry()) {
            RecordingProgress progress = new RecordingProgress(true);
            assertThrows(java.util.concurrent.CancellationException.class, () -> run(registry, model, out).progress(progress).run());
            assertFalse(Files.exists(out), "a cancelled run writes nothing at its output");
            assertEquals(0, progress.open, "progress begin()/end() pair up on cancellation too");
        }
    }

    /** Counts open {@code begin}s; cancelled from the start when asked. */
    private static final class RecordingProgress implements ProgressListener {
        private final boolean cancelled;
        int open;

        RecordingProgress(boolean cancelled) {
            this.cancelled = cancelled;
        }

        @Override
        public void begin(String task, long total, String unit) {
            open++;
        }

        @Override
        public void advance(long done) {
        }

        @Override
        public void end() {
            open--;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
    }
}
