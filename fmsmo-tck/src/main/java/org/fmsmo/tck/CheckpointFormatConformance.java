package org.fmsmo.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.api.quant.QuantReport;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.core.checkpoint.CheckpointFormats;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.pipeline.CalibrationSource;
import org.fmsmo.core.pipeline.Quantization;
import org.fmsmo.core.pipeline.QuantizationResult;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of a {@link CheckpointFormatProvider}, checked inside a real host: extend this class
 * in the plugin's tests and return the provider. A tiny Llama checkpoint is quantized by
 * {@link #method()} (the {@code rtn} plugin must be on the test class path by default, or in
 * {@link #host()}'s plugins) and written
 * in the format through the CLI's pipeline.
 *
 * <p>Checked: the name; the folder records the format's name and reloads through it, each
 * quantized layer computing close to its float layer on a probe input (relative error below
 * {@link #maxRelativeError()}) and not equal to it; writing is deterministic (the same bytes twice,
 * which resuming a killed run relies on); a quantization description stripped of its fields
 * ({@link #stripDescription}) is refused with an {@link FmsmoException}, not a crash.
 */
public abstract class CheckpointFormatConformance {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    /** The provider under test. */
    protected abstract CheckpointFormatProvider provider();

    /**
     * The plugins the runs see besides the provider under test: by default the application's (the
     * test class path). A test beside a distribution adds its plugins folder.
     */
    protected PluginRegistry.Builder host() {
        return PluginRegistry.builder().application();
    }

    /** The method that freezes the layers the format then writes. */
    protected String method() {
        return "rtn";
    }

    /** The recipe of the run. */
    protected String recipe() {
        return "ptq_int8";
    }

    /** Overrides: by default weights only, 4 bits in groups of 8 (the tiny model's widths are 64 and 128). */
    protected Map<String, Object> settings() {
        return Map.of("nbits_a", 32, "qw_spec", "int4-sym-group8", "qw_mode", "maxperGp");
    }

    /** The largest ‖Ŵ − W‖ / ‖W‖ accepted for a quantized layer (4-bit groups of 8: about 0.1). */
    protected double maxRelativeError() {
        return 0.2;
    }

    /**
     * Damages a written folder's description of its quantized layers, keeping what names the
     * format; loading it must then fail with an {@link FmsmoException}. By default the
     * {@code quantization_config} keeps only its {@code quant_method}; a format that describes its
     * layers elsewhere strips that instead.
     */
    protected void stripDescription(Path folder) throws java.io.IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(folder.resolve("config.json").toFile());
        String quantMethod = config.path("quantization_config").path("quant_method").asText(provider().name());
        config.set("quantization_config", JSON.createObjectNode().put("quant_method", quantMethod));
        Files.writeString(folder.resolve("config.json"), config.toPrettyString());
    }

    private QuantizationResult write(PluginRegistry registry, Path model, Path out) {
        return Quantization.of(model).method(method()).format(provider().name()).recipe(recipe()).set(settings()).output(out).plugins(registry)
                .calibration(CalibrationSource.random(4, 16, 2, 3)).run();
    }

    @Test
    void nameIsUsable() {
        assertNotNull(provider().name());
        assertTrue(provider().name().matches("[A-Za-z0-9_+.-]+"), "name '" + provider().name() + "'");
    }

    @Test
    void theWrittenFolderNamesItsFormatAndReloadsCloseToTheFloatModel() throws Exception {
        Path model = TckHost.tinyLlama(work);
        Path out = work.resolve("written");
        try (PluginRegistry registry = TckHost.registry(this::host, ProviderKind.CHECKPOINT_FORMAT, provider())) {
            QuantReport report = write(registry, model, out).report();
            assertFalse(report.layers().isEmpty(), "the method quantized layers");
            assertEquals(provider().name(), JSON.readTree(out.resolve("config.json").toFile()).path(CheckpointFormats.FORMAT_KEY).asText(),
                    "config.json records the format that wrote it");
            ModelLoader loader = new ModelLoader(registry);
            try (TransformerModel original = loader.load(model); TransformerModel back = loader.load(out)) {
                for (QuantReport.LayerResult l : report.layers()) {
                    float[] w = probe(original, l.name());
                    float[] q = probe(back, l.name());
                    assertEquals(w.length, q.length, l.name());
                    double diff = 0;
                    double norm = 0;
                    for (int i = 0; i < w.length; i++) {
                        diff += (double) (q[i] - w[i]) * (q[i] - w[i]);
                        norm += (double) w[i] * w[i];
                    }
                    double rel = Math.sqrt(diff / norm);
                    assertTrue(rel > 0 && rel < maxRelativeError(), l.name() + ": relative error " + rel + " of the reloaded layer's output");
                }
            }
        }
    }

    /** A layer's output for a fixed random input of 4 rows: what it computes, however the format stores it. */
    private static float[] probe(TransformerModel model, String layer) {
        org.fmsmo.api.model.LinearLayer l = model.linear(layer);
        java.util.Random random = new java.util.Random(7);
        float[] x = new float[4 * (int) l.inFeatures()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        try (ai.djl.ndarray.NDArray in = model.manager().create(x, new ai.djl.ndarray.types.Shape(4, l.inFeatures()));
             ai.djl.ndarray.NDArray y = l.forward(in)) {
            return y.toFloatArray();
        }
    }

    @Test
    void writingIsDeterministic() throws Exception {
        Path model = TckHost.tinyLlama(work);
        try (PluginRegistry registry = TckHost.registry(this::host, ProviderKind.CHECKPOINT_FORMAT, provider())) {
            Path a = write(registry, model, work.resolve("a")).output();
            Path b = write(registry, model, work.resolve("b")).output();
            List<Path> files;
            try (Stream<Path> s = Files.walk(a)) {
                files = s.filter(Files::isRegularFile).map(a::relativize).sorted().toList();
            }
            assertFalse(files.isEmpty());
            for (Path f : files) {
                assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f + " differs between two identical runs");
            }
        }
    }

    @Test
    void aDescriptionWithoutItsFieldsIsRefused() throws Exception {
        Path model = TckHost.tinyLlama(work);
        Path out = work.resolve("stripped");
        try (PluginRegistry registry = TckHost.registry(this::host, ProviderKind.CHECKPOINT_FORMAT, provider())) {
            write(registry, model, out);
            stripDescription(out);
            assertThrows(FmsmoException.class, () -> new ModelLoader(registry).load(out).close(),
                    "a quantization description stripped of its fields is refused with an FmsmoException");
        }
    }
}
