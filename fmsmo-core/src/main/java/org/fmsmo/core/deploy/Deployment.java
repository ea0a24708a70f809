package org.fmsmo.core.deploy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.FrozenMatmul;
import org.fmsmo.api.deploy.PreparedMatmul;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.quant.QBmm;
import org.fmsmo.core.quant.QLinear;

/**
 * Runs a model's frozen quantized linear layers on a {@link DeployBackend}: each frozen
 * {@code QLinear} the backend supports becomes the backend's prepared layer (its integer or FP8
 * compute), fed the same input the simulation quantizes (after any SmoothQuant divisor). Layers
 * the backend cannot run stay simulated and are listed. So do the quantized attention matmuls
 * ({@code QBmm}, the KV cache included): each one the backend {@linkplain DeployBackend#runs runs}
 * is computed there with its calibrated operand scales.
 */
public final class Deployment {

    /**
     * What moved to the backend.
     *
     * @param check the running comparison with the simulated layers, or null when not asked for
     */
    public record Result(int onBackend, List<String> simulated, LayerCheck check, int matmulsOnBackend, List<String> matmulsSimulated) {
    }

    private Deployment() {
    }

    public static Result apply(TransformerModel model, DeployBackend backend) {
        return apply(model, backend, false);
    }

    /**
     * @param check also run every moved layer's simulated {@code QLinear} on the same input and
     *              record how far the backend's output is from it (doubles the layer cost)
     */
    public static Result apply(TransformerModel model, DeployBackend backend, boolean check) {
        LayerCheck layerCheck = check ? new LayerCheck() : null;
        int moved = 0;
        List<String> simulated = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            if (!(l instanceof QLinear q) || !q.isFrozen()) {
                continue;
            }
            FrozenLinear frozen = frozen(q, model.manager());
            if (!backend.capabilities().supports(frozen.weight().spec(), frozen.inputSpec())
                    || frozen.decomposesOutliers() && !backend.runsOutlierDecomposition()) {
                simulated.add(q.name());
                continue;
            }
            model.replace(q.name(), new OnBackend(q, backend.prepare(frozen), layerCheck));
            moved++;
        }
        Map<String, QBmm> bmms = new LinkedHashMap<>();
        model.forEachBmm("", (slot, b) -> {
            if (b instanceof QBmm q) {
                bmms.put(slot, q);
            }
        });
        int matmuls = 0;
        List<String> matmulsSimulated = new ArrayList<>();
        for (Map.Entry<String, QBmm> e : bmms.entrySet()) {
            FrozenMatmul frozen = frozen(e.getValue(), model.manager());
            if (!backend.runs(frozen)) {
                matmulsSimulated.add(frozen.name());
                continue;
            }
            model.replaceBmm(e.getKey(), new MatmulOnBackend(e.getValue(), backend.prepare(frozen), layerCheck));
            matmuls++;
        }
        return new Result(moved, simulated, layerCheck, matmuls, matmulsSimulated);
    }

    /** An attention matmul as a backend sees it: each quantized operand's calibrated per-tensor scale (and zero point). */
    public static FrozenMatmul frozen(QBmm q, NDManager m) {
        return new FrozenMatmul(q.name(), q.first() == null ? null : operand(q.first(), m), operand(q.second(), m));
    }

    private static FrozenMatmul.Operand operand(Quantizer quantizer, NDManager m) {
        QuantizedTensor probe = probe(quantizer, m);
        return new FrozenMatmul.Operand(quantizer.spec(), probe.scale(), probe.zeroPoint().orElse(null));
    }

    /** What a static quantizer gives any tensor: its calibrated scale (and zero point), read off a one-element one. */
    private static QuantizedTensor probe(Quantizer quantizer, NDManager m) {
        return quantizer.quantize(m.zeros(new Shape(1, 1)));
    }

    /** The layer as a backend sees it; a static input quantizer's scale (and zero point) is what it gives any tensor. */
    public static FrozenLinear frozen(QLinear q, NDManager m) {
        NDArray bias = q.bias().orElse(null);
        Optional<Quantizer> input = q.inputQuantizer();
        QuantSpec spec = input.map(Quantizer::spec).orElse(null);
        if (spec == null || spec.granularity() == Granularity.TOKEN) {
            double outliers = input.map(i -> i.outlierThreshold().orElse(Double.NaN)).orElse(Double.NaN);
            return new FrozenLinear(q.name(), q.frozenWeight(), bias, spec, null, null, outliers);
        }
        QuantizedTensor probe = probe(input.get(), m);
        return new FrozenLinear(q.name(), q.frozenWeight(), bias, spec, probe.scale(), probe.zeroPoint().orElse(null));
    }

    /** A frozen layer computed by the backend. */
    private static final class OnBackend implements LinearLayer {
        private final QLinear simulated;
        private final PreparedLinear prepared;
        private final LayerCheck check;

        OnBackend(QLinear simulated, PreparedLinear prepared, LayerCheck check) {
            this.simulated = simulated;
            this.prepared = prepared;
            this.check = check;
        }

        @Override
        public String name() {
            return simulated.name();
        }

        @Override
        public long inFeatures() {
            return simulated.inFeatures();
        }

        @Override
        public long outFeatures() {
            return simulated.outFeatures();
        }

        @Override
        public NDArray weight() {
            return simulated.weight();
        }

        @Override
        public Optional<NDArray> bias() {
            return simulated.bias();
        }

        @Override
        public NDArray forward(NDArray x) {
            NDArray in = simulated.wrapped() instanceof Linear plain ? plain.prepareInput(x) : x;
            NDArray y = prepared.forward(in);
            if (check != null) {
                try (NDArray expected = simulated.forward(x)) {
                    check.record(name(), y, expected);
                }
            }
            return y;
        }
    }

    /** A quantized attention matmul computed by the backend. */
    private record MatmulOnBackend(QBmm simulated, PreparedMatmul prepared, LayerCheck check) implements Bmm {

        @Override
        public String name() {
            return simulated.name();
        }

        @Override
        public NDArray apply(NDArray a, NDArray b) {
            NDArray y = prepared.forward(a, b);
            if (check != null) {
                try (NDArray expected = simulated.apply(a, b)) {
                    check.record(name(), y, expected);
                }
            }
            return y;
        }
    }

    /**
     * The largest deviation of each backend layer from its simulated {@code QLinear} on the inputs
     * the model actually fed it, relative to the largest simulated output of that layer
     * ({@code max|y_backend − y_sim| / max|y_sim|}): float rounding shows as ~1e-7..1e-5, a wrong
     * integer or scale as much more.
     */
    public static final class LayerCheck {
        /** Per layer: max |difference|, max |simulated|, forwards seen. In model order. */
        private final Map<String, double[]> layers = new LinkedHashMap<>();

        synchronized void record(String layer, NDArray actual, NDArray expected) {
            float diff;
            float ref;
            try (NDArray d = actual.sub(expected).abs().max(); NDArray e = expected.abs().max()) {
                diff = d.getFloat();
                ref = e.getFloat();
            }
            double[] l = layers.computeIfAbsent(layer, k -> new double[3]);
            l[0] = Math.max(l[0], Float.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            l[1] = Math.max(l[1], ref);
            l[2]++;
        }

        /** A layer's relative deviation so far. */
        public synchronized double relativeError(String layer) {
            double[] l = layers.get(layer);
            return l == null ? Double.NaN : l[0] / Math.max(l[1], Float.MIN_NORMAL);
        }

        /** For reports: layers checked, forwards compared, the worst layer and its relative deviation. */
        public synchronized Map<String, Object> summary() {
            Map<String, Object> m = new LinkedHashMap<>();
            String worst = null;
            double worstError = 0;
            long forwards = 0;
            for (Map.Entry<String, double[]> e : layers.entrySet()) {
                double rel = relativeError(e.getKey());
                if (worst == null || rel > worstError) {
                    worst = e.getKey();
                    worstError = rel;
                }
                forwards += (long) e.getValue()[2];
            }
            m.put("layers_checked", layers.size());
            m.put("forwards_compared", forwards);
            m.put("max_relative_error", worstError);
            m.put("worst_layer", worst);
            return m;
        }
    }
}
