package org.fmsmo.core.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** The QAT objectives on cases computed by hand. */
class TrainingLossTest {

    @Test
    void klDistillation() {
        // teacher logits [ln 3, 0] → p_t = [3/4, 1/4]; student [0, 0] → p_s = [1/2, 1/2]:
        // KL = 3/4·ln(3/2) + 1/4·ln(1/2) = 0.1308120.
        try (NDManager m = NDManager.newBaseManager()) {
            float kl = Training.klDistill(m.create(new float[] {0, 0}, new Shape(1, 1, 2)),
                    m.create(new float[] {(float) Math.log(3), 0}, new Shape(1, 1, 2))).getFloat();
            assertEquals(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), kl, 1e-6);
        }
    }

    @Test
    void nextTokenCrossEntropyScoresTokenTPlusOne() {
        // ids [0, 1]: position 0 predicts id 1 with logits [0, ln 3] → p = 3/4 → −ln(3/4); position 1 has no target.
        try (NDManager m = NDManager.newBaseManager()) {
            float ce = Training.nextToken(m.create(new float[] {0, (float) Math.log(3), 5, -5}, new Shape(1, 2, 2)),
                    m.create(new long[] {0, 1}, new Shape(1, 2))).getFloat();
            assertEquals(-Math.log(0.75), ce, 1e-6);
        }
    }

    @Test
    void embeddingCosineDistance() {
        // rows ([1, 0], [1, 1]) → 1 − 1/√2, and ([0, 2], [0, 3]) → 0: mean (1 − 1/√2)/2.
        try (NDManager m = NDManager.newBaseManager()) {
            float d = Training.cosineDistance(m.create(new float[] {1, 0, 0, 2}, new Shape(2, 2)),
                    m.create(new float[] {1, 1, 0, 3}, new Shape(2, 2))).getFloat();
            assertEquals((1 - 1 / Math.sqrt(2)) / 2, d, 1e-6);
        }
    }
}
