package org.fmsmo.core.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantReport;

/**
 * What a quantization run did.
 *
 * @param output            the written folder
 * @param streamed          whether the model was processed layer by layer (else loaded whole)
 * @param whyNotStreamed    when not streamed, the reason
 * @param skippedLayers     linear layers the plan left in float, with the planner's reason, in model order
 * @param calibrationSamples 0 without calibration
 * @param stageSeconds      wall time by stage (load, calibration, quantize, write …)
 * @param sizeBeforeBytes   the float model's parameters in FLOAT32
 * @param sizeAfterBytes    the written weight files
 * @param resumedAfterBlocks decoder blocks a killed earlier run had finished and this one went on from (0: none)
 * @param evaluation        the quantized model against the float one on held-out text ({@code eval}'s keys:
 *                          {@code perplexity} and {@code reference_perplexity}, or {@code cosine} and
 *                          {@code cosine_min}); null when the run was not asked to evaluate
 * @param worstLayers       the few layers with the largest error, worst first, with their input ranges and weight histograms
 */
public record QuantizationResult(String method, String format, Path output, boolean streamed, String whyNotStreamed, QuantReport report,
                                 Map<String, String> skippedLayers, int attentionMatmulsQuantized, int calibrationSamples, double seconds,
                                 Map<String, Double> stageSeconds, long sizeBeforeBytes, long sizeAfterBytes, QuantConfig config,
                                 int resumedAfterBlocks, Map<String, Object> evaluation,
                                 List<LayerProfile> worstLayers) {

    public QuantizationResult {
        skippedLayers = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(skippedLayers));
        worstLayers = List.copyOf(worstLayers);
    }

    /** How many planned linear layers were left in float. */
    public int layersSkipped() {
        return skippedLayers.size();
    }
}
