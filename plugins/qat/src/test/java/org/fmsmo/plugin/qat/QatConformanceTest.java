package org.fmsmo.plugin.qat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.core.pipeline.TrainingSetup;
import org.fmsmo.tck.QuantMethodConformance;

/**
 * QAT passes the quant-method conformance kit: four optimizer steps on random words of the kit
 * model's vocabulary, next-token loss, INT8 weights and activations.
 */
class QatConformanceTest extends QuantMethodConformance {

    @Override
    protected QuantMethodProvider provider() {
        return new QatMethodProvider();
    }

    @Override
    protected String recipe() {
        return "qat_int8";
    }

    @Override
    protected Map<String, Object> settings() {
        return Map.of("qat_steps", 4, "qat_eval_every", 0, "qat_checkpoint_every", 0);
    }

    @Override
    protected TrainingSetup training(Path work) throws IOException {
        return new TrainingSetup(wordText(work, 2000, 7), null, false, 16, 2, 3, null);
    }
}
