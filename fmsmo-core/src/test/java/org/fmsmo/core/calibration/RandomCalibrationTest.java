package org.fmsmo.core.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

class RandomCalibrationTest {

    @Test
    void randomTokensAreInTheVocabularyReproducibleAndBatched() {
        CalibrationData a = CalibrationData.random(1000, 5, 16, 2, 42);
        CalibrationData b = CalibrationData.random(1000, 5, 16, 2, 42);
        assertEquals(5, a.size());
        assertEquals(3, a.batches());
        assertEquals(16, a.maxTokens());
        try (NDManager m = NDManager.newBaseManager()) {
            long[] first = a.batch(0, m).ids().toLongArray();
            assertArrayEquals(first, b.batch(0, m).ids().toLongArray());
            assertEquals(32, first.length);
            for (int k = 0; k < a.batches(); k++) {
                CalibrationData.Batch batch = a.batch(k, m);
                assertNull(batch.mask(), "full windows need no mask");
                for (long id : batch.ids().toLongArray()) {
                    assertTrue(id >= 0 && id < 1000, "id " + id);
                }
            }
            long distinct = java.util.Arrays.stream(first).distinct().count();
            assertTrue(distinct > 25, "32 draws from 1000 ids should rarely repeat: " + distinct + " distinct");
        }
        assertThrows(FmsmoException.class, () -> CalibrationData.random(1000, 0, 16, 2, 1));
    }
}
