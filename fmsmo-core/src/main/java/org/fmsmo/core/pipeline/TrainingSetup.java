package org.fmsmo.core.pipeline;

import java.nio.file.Path;

/**
 * What a training method ({@code qat}) learns from.
 *
 * @param trainData text cut into windows of {@code seqLen} (encoders: one sentence per line)
 * @param evalData  held-out text, evaluated before and after; may be null
 * @param distill   learn from the float model (a second copy is loaded as the teacher)
 * @param resume    a checkpoint folder to go on from; may be null
 */
public record TrainingSetup(Path trainData, Path evalData, boolean distill, int seqLen, int batchSize, long seed, Path resume) {
}
