package org.fmsmo.core.context;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.LayerWrapperProvider;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.StageQuantizer;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.api.quant.TrainingObjective;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.LayerNorm;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.Module;
import org.fmsmo.core.nn.RmsNorm;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QBmm;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;

/**
 * The host's {@link QuantContext}: quantizers and wrappers come from the registry, so a plugin
 * method uses whatever quantizer plugins are installed; calibration runs the run's examples
 * through the model.
 */
public final class DefaultQuantContext implements QuantContext {

    /** The wrapper used for linear layers. */
    public static final String LINEAR_WRAPPER = "qlinear";

    private final QuantizableModel model;
    private final CalibrationScope scope;
    private final QuantPlan plan;
    private final QuantConfig config;
    private final PluginRegistry registry;
    private final ProgressListener progress;
    private TrainingObjective training;

    /** A context without calibration examples. */
    public DefaultQuantContext(QuantizableModel model, QuantPlan plan, QuantConfig config, PluginRegistry registry,
                               ProgressListener progress) {
        this(model, plan, config, registry, progress, null);
    }

    /** @param calibration null when there are no calibration examples */
    public DefaultQuantContext(QuantizableModel model, QuantPlan plan, QuantConfig config, PluginRegistry registry,
                               ProgressListener progress, CalibrationData calibration) {
        this(new WholeModelScope(model, calibration), plan, config, registry, progress);
    }

    /** A context whose calibration runs through {@code scope} (one block of a streamed model). */
    public DefaultQuantContext(CalibrationScope scope, QuantPlan plan, QuantConfig config, PluginRegistry registry, ProgressListener progress) {
        this.scope = Objects.requireNonNull(scope, "scope");
        this.model = scope.model();
        this.plan = Objects.requireNonNull(plan, "plan");
        this.config = Objects.requireNonNull(config, "config");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /** Gives a training method ({@code qat}) its objective; returns this. */
    public DefaultQuantContext withTraining(TrainingObjective objective) {
        this.training = objective;
        return this;
    }

    @Override
    public java.util.Optional<TrainingObjective> training() {
        return java.util.Optional.ofNullable(training);
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
        Quantizer q = registry.get(QuantizerProvider.class, m).create(spec);
        if (spec.rangeSource() == RangeSource.PERCENTILE) {
            QuantizerModes.setPercentile(q, config.getDouble("qa_percentile", 99.9));
        }
        return q;
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

    @Override
    public List<LayerWrapper> prepare() {
        List<LayerWrapper> wrappers = new ArrayList<>();
        int reused = 0;
        for (LayerDecision d : plan.quantized()) {
            if (model.linear(d.name()) instanceof LayerWrapper existing && !existing.isFrozen()) {
                // ckpt_reload: a layer restored from a training checkpoint keeps its learned state.
                wrappers.add(existing);
                reused++;
                continue;
            }
            Quantizer w = quantizer(d.weightMode(), d.weightSpec());
            Quantizer in = d.inputSpec() == null ? null : quantizer(d.inputMode(), d.inputSpec());
            wrappers.add(wrap(d.name(), w, in));
        }
        Module root = plan.quantizedBmms().isEmpty() ? null : scope.root();
        for (LayerDecision d : plan.quantizedBmms()) {
            wrapBmm(root, d, bmm(root, d));
        }
        int limit = config.getInt("qmodel_calibration", Integer.MAX_VALUE);
        if (scope.hasExamples() && limit > 0 && reused < wrappers.size()) {
            calibrate(scope instanceof WholeModelScope whole ? whole.firstBatches(limit) : scope);
        }
        return wrappers;
    }

    /** A path relative to the scope's root module. */
    private String local(String fullPath) {
        String prefix = scope.root().path();
        return prefix.isEmpty() ? fullPath : fullPath.substring(prefix.length() + 1);
    }

    /**
     * Quantizes the KV cache where the plan asks for it and the method left the attention matmuls
     * alone (weight methods: rtn, gptq, awq): each planned matmul gets its quantizers, then one
     * pass of the calibration examples through the model as the method left it — quantized
     * layers computing quantized — fixes their ranges. Matmuls that {@link #prepare} wrapped and
     * calibrated are left as they are; KV-cache ones it wrapped without calibrating are calibrated.
     *
     * @return the number of attention matmuls quantized here
     */
    public int quantizeKvCache() {
        List<QBmm> added = new ArrayList<>();
        Module root = scope.root();
        for (LayerDecision d : plan.quantizedBmms()) {
            Bmm old = bmm(root, d);
            if (old instanceof QBmm q) {
                if (q.first() == null && q.second().state().isEmpty()) {
                    added.add(q); // wrapped by prepare() but never calibrated (a method without a calibration pass)
                }
                continue;
            }
            added.add(wrapBmm(root, d, old));
        }
        if (added.isEmpty()) {
            return 0;
        }
        if (!scope.hasExamples()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "a static KV-cache scale needs calibration examples; give a calibration file");
        }
        added.forEach(b -> b.setCalibrating(true));
        try {
            scope.forward(progress);
        } finally {
            added.forEach(b -> b.setCalibrating(false));
        }
        added.forEach(QBmm::endCalibration);
        return added.size();
    }

    /** The planned attention matmul in the scope's tree. */
    private Bmm bmm(Module root, LayerDecision d) {
        return root.findBmm(local(d.name())).orElseThrow(() -> new FmsmoException(ErrorCode.UNKNOWN_NAME,
                "no attention matmul '" + d.name() + "' in " + model.architecture()));
    }

    /** Puts the planned quantizers around {@code old} (none on the first operand for the KV cache). */
    private QBmm wrapBmm(Module root, LayerDecision d, Bmm old) {
        QBmm q = new QBmm(old, d.inputSpec() == null ? null : quantizer(d.inputMode(), d.inputSpec()), quantizer(d.weightMode(), d.weightSpec()));
        root.replaceBmm(local(d.name()), q);
        return q;
    }

    @Override
    public int calibrate() {
        return scope.hasExamples() ? calibrate(scope) : 0;
    }

    private int calibrate(CalibrationScope data) {
        Module tm = data.root();
        List<LayerWrapper> wrappers = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            if (l instanceof LayerWrapper w) {
                wrappers.add(w);
            }
        }
        List<QBmm> bmms = new ArrayList<>();
        tm.forEachBmm("", (n, b) -> {
            if (b instanceof QBmm q) {
                bmms.add(q);
            }
        });
        int batches = data instanceof WholeModelScope whole ? whole.batches() : 1;
        if (bmms.isEmpty() && wrappers.stream().allMatch(w -> w instanceof QLinear && w.inputQuantizer().isEmpty())) {
            // Nothing observes: the host's wrappers look only at their inputs in calibration mode,
            // and none has an input quantizer (weight-only RTN, FP8 weights). The pass would be a
            // whole forward of the scope for nothing.
            return batches;
        }
        wrappers.forEach(w -> w.setCalibrating(true));
        bmms.forEach(b -> b.setCalibrating(true));
        try {
            data.forward(progress);
        } finally {
            wrappers.forEach(w -> w.setCalibrating(false));
            bmms.forEach(b -> b.setCalibrating(false));
        }
        for (LayerWrapper w : wrappers) {
            w.inputQuantizer().ifPresent(Quantizer::endCalibration);
        }
        bmms.forEach(QBmm::endCalibration);
        return batches;
    }

    @Override
    public Map<String, float[]> inputChannelAbsMax(Collection<String> layers) {
        return inputChannelAbsMax(layers, Integer.MAX_VALUE);
    }

    /** As {@link #inputChannelAbsMax(Collection)}, over the first {@code samples} examples only. */
    public Map<String, float[]> inputChannelAbsMax(Collection<String> layers, int samples) {
        if (!scope.hasExamples()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "input statistics need calibration examples; give a calibration file");
        }
        Map<String, InputStatsLinear> probes = new LinkedHashMap<>();
        for (String name : layers) {
            InputStatsLinear probe = new InputStatsLinear(model.linear(name));
            probes.put(name, probe);
            model.replace(name, probe);
        }
        try {
            scope.forward(samples, progress);
        } finally {
            probes.forEach((name, probe) -> model.replace(name, probe.wrapped()));
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        probes.forEach((name, probe) -> out.put(name, probe.absMax()));
        return out;
    }

    @Override
    public void smooth(List<String> layers, float[] s) {
        for (float f : s) {
            if (!(f > 0) || !Float.isFinite(f)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "smoothing factors must be positive and finite, found " + f);
            }
        }
        for (String name : layers) {
            if (model.linear(name) instanceof Linear plain && plain.inputRotation().isPresent()) {
                return; // a per-channel scale does not commute with the online rotation after it; the rotation spreads that input already
            }
        }
        scope.changed();
        NDArray scale = model.manager().create(s);
        Optional<InputGroup> group = plan.inputGroup(layers.getFirst());
        boolean fold = plan.foldable(layers);
        if (!fold && config.getBoolean("smoothq_fold_only", false)) {
            return; // the scale would stay a run-time input divisor, which HF/vLLM checkpoints cannot hold
        }
        for (String name : layers) {
            LinearLayer l = model.linear(name);
            if (l.inFeatures() != s.length) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name + " has " + l.inFeatures() + " inputs, smoothing has " + s.length);
            }
            if (!(l instanceof Linear plain)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "layer " + name + " must be smoothed before it is wrapped");
            }
            plain.weight().muli(scale);
            if (!fold) {
                plain.setInputDivisor(scale);
            }
        }
        if (fold && isLinear(group.get().producer())) {
            switch (model.linear(group.get().producer())) {
                case Linear plain -> plain.divideOutputs(scale);
                case QLinear wrapped -> wrapped.divideOutputs(scale, config.getString("scale_dtype", "float32").equals("float16"));
                default -> throw new IllegalStateException("producer " + group.get().producer() + " is neither a plain nor a host-wrapped linear");
            }
        } else if (fold) {
            Module norm = scope.module(group.get().producer());
            switch (norm) {
                case RmsNorm r -> r.divideGain(scale);
                case LayerNorm n -> {
                    n.weight().divi(scale);
                    if (n.bias() != null) {
                        n.bias().divi(scale);
                    }
                }
                default -> throw new IllegalStateException("producer " + group.get().producer() + " is not a norm");
            }
        }
    }

    private boolean isLinear(String name) {
        return model.linearLayers().stream().anyMatch(l -> l.name().equals(name));
    }

    @Override
    public StageQuantizer stageQuantizer(String method) {
        return registry.get(QuantMethodProvider.class, method).create().stageQuantizer(this)
                .orElseThrow(() -> new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "method " + method
                        + " does not quantize stage by stage, so no other method can hand it a stage (gptq can)"));
    }

    @Override
    public void sequential(Stage stage) {
        if (!scope.hasExamples()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "sequential quantization needs calibration examples; give a calibration file");
        }
        scope.sequential(plan, stage, config.getBoolean("true_sequential", true));
    }

    /** Passes through, recording max |x| per input channel. */
    private static final class InputStatsLinear extends PassThroughLinear {
        private float[] absMax;

        InputStatsLinear(LinearLayer wrapped) {
            super(wrapped);
        }

        float[] absMax() {
            return absMax;
        }

        @Override
        void observe(NDArray x) {
            float[] batch = x.abs().reshape(-1, inFeatures()).max(new int[] {0}).toFloatArray();
            if (absMax == null) {
                absMax = batch;
            } else {
                for (int i = 0; i < batch.length; i++) {
                    absMax[i] = Math.max(absMax[i], batch[i]);
                }
            }
        }
    }
}
