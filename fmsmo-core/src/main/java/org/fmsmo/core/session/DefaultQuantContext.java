package org.fmsmo.core.session;

import java.util.Objects;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.LayerWrapperProvider;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QuantizerModes;

/**
 * The host's {@link QuantContext}: quantizers and wrappers come from the registry, so a plugin
 * method uses whatever quantizer plugins are installed.
 */
public final class DefaultQuantContext implements QuantContext {

    /** The wrapper used for linear layers. */
    public static final String LINEAR_WRAPPER = "qlinear";

    private final QuantizableModel model;
    private final QuantPlan plan;
    private final QuantConfig config;
    private final PluginRegistry registry;
    private final ProgressListener progress;

    /** All arguments required. */
    public DefaultQuantContext(QuantizableModel model, QuantPlan plan, QuantConfig config, PluginRegistry registry,
                               ProgressListener progress) {
        this.model = Objects.requireNonNull(model, "model");
        this.plan = Objects.requireNonNull(plan, "plan");
        this.config = Objects.requireNonNull(config, "config");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    @Override
    public QuantizableModel model() {
        return model;
    }

    @Override
    public QuantPlan plan() {
        return plan;
    }

    @Override
    public QuantConfig config() {
        return config;
    }

    @Override
    public Quantizer quantizer(String mode, QuantSpec spec) {
        String m = mode == null ? QuantizerModes.defaultMode(spec) : mode;
        return registry.get(QuantizerProvider.class, m).create(spec);
    }

    @Override
    public LayerWrapper wrap(String layerName, Quantizer weightQuantizer, Quantizer inputQuantizer) {
        LayerWrapper w = registry.get(LayerWrapperProvider.class, LINEAR_WRAPPER)
                .wrap(model.linear(layerName), weightQuantizer, inputQuantizer);
        model.replace(layerName, w);
        return w;
    }

    @Override
    public ProgressListener progress() {
        return progress;
    }
}
