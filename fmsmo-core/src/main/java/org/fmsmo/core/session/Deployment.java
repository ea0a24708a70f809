package org.fmsmo.core.session;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.model.Linear;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.quant.QLinear;

/**
 * Runs a model's frozen quantized linear layers on a {@link DeployBackend}: each frozen
 * {@code QLinear} the backend supports becomes the backend's prepared layer (its integer or FP8
 * compute), fed the same input the simulation quantizes (after any SmoothQuant divisor). Layers
 * the backend cannot run stay simulated and are listed.
 */
public final class Deployment {

    /** What moved to the backend. */
    public record Result(int onBackend, List<String> simulated) {
    }

    private Deployment() {
    }

    public static Result apply(TransformerModel model, DeployBackend backend) {
        int moved = 0;
        List<String> simulated = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            if (!(l instanceof QLinear q) || !q.isFrozen()) {
                continue;
            }
            FrozenLinear frozen = frozen(q, model.manager());
            if (!backend.capabilities().supports(frozen.weight().spec(), frozen.inputSpec())) {
                simulated.add(q.name());
                continue;
            }
            model.replace(q.name(), new OnBackend(q, backend.prepare(frozen)));
            moved++;
        }
        return new Result(moved, simulated);
    }

    /** The layer as a backend sees it; a static input quantizer's scale (and zero point) is what it gives any tensor. */
    static FrozenLinear frozen(QLinear q, NDManager m) {
        NDArray bias = q.bias().orElse(null);
        Optional<Quantizer> input = q.inputQuantizer();
        QuantSpec spec = input.map(Quantizer::spec).orElse(null);
        if (spec == null || spec.granularity() == Granularity.TOKEN) {
            return FrozenLinear.dynamic(q.name(), q.frozenWeight(), bias, spec);
        }
        QuantizedTensor probe = input.get().quantize(m.zeros(new Shape(1, 1)));
        return new FrozenLinear(q.name(), q.frozenWeight(), bias, spec, probe.scale(), probe.zeroPoint().orElse(null));
    }

    /** A frozen layer computed by the backend. */
    private static final class OnBackend implements LinearLayer {
        private final QLinear simulated;
        private final PreparedLinear prepared;

        OnBackend(QLinear simulated, PreparedLinear prepared) {
            this.simulated = simulated;
            this.prepared = prepared;
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
            return prepared.forward(in);
        }
    }
}
