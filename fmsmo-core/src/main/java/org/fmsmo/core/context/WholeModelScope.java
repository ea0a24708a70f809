package org.fmsmo.core.context;

import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Module;

/** A whole model in memory, with its calibration examples (null when there are none). */
final class WholeModelScope implements CalibrationScope {

    private final QuantizableModel model;
    private final CalibrationData calibration;

    WholeModelScope(QuantizableModel model, CalibrationData calibration) {
        this.model = java.util.Objects.requireNonNull(model, "model");
        this.calibration = calibration;
    }

    @Override
    public QuantizableModel model() {
        return model;
    }

    @Override
    public Module root() {
        return transformer();
    }

    @Override
    public boolean hasExamples() {
        return calibration != null;
    }

    @Override
    public void forward(int samples, ProgressListener progress) {
        (samples < calibration.size() ? calibration.firstSamples(samples) : calibration).run(transformer(), progress);
    }

    @Override
    public void sequential(QuantPlan plan, QuantContext.Stage stage, boolean trueSequential) {
        new SequentialRunner(transformer(), plan, calibration, trueSequential).run(stage);
    }

    /** The same model with only the first {@code n} batches ({@code qmodel_calibration}). */
    WholeModelScope firstBatches(int n) {
        return new WholeModelScope(model, calibration.firstBatches(n));
    }

    int batches() {
        return calibration.batches();
    }

    private TransformerModel transformer() {
        if (model instanceof TransformerModel tm) {
            return tm;
        }
        throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "calibration needs a model loaded by fmsmo, found " + model.getClass().getName());
    }
}
