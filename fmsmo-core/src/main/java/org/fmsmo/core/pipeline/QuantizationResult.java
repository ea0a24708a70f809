package org.fmsmo.core.pipeline;

import java.nio.file.Path;
import java.util.Map;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantReport;

/**
 * What a quantization run did.
 *
 * @param output            the written folder
 * @param streamed          whether the model was processed layer by layer (else loaded whole)
 * @param whyNotStreamed    when not streamed, the reason
 * @param layersSkipped     planned linear layers left in float
 * @param calibrationSamples 0 without calibration
 * @param stageSeconds      wall time by stage (load, calibration, quantize, write …)
 * @param sizeBeforeBytes   the float model's parameters in FLOAT32
 * @param sizeAfterBytes    the written weight files
 * @param resumedAfterBlocks decoder blocks a killed earlier run had finished and this one went on from (0: none)
 */
public record QuantizationResult(String method, String format, Path output, boolean streamed, String whyNotStreamed, QuantReport report,
                                 int layersSkipped, int attentionMatmulsQuantized, int calibrationSamples, double seconds,
                                 Map<String, Double> stageSeconds, long sizeBeforeBytes, long sizeAfterBytes, QuantConfig config,
                                 int resumedAfterBlocks) {
}
