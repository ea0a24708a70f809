package org.fmsmo.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

/** The bit allocation on rankings whose greedy steps are worked out by hand. */
class MixedPrecisionTest {

    /** Three layers of 100 weights, losses at 4 bits 0.1, 0.01 and 0.001. */
    private static final List<Sensitivity.Layer> RANKING = List.of(
            new Sensitivity.Layer("a", 100, 0, 0.1), new Sensitivity.Layer("b", 100, 0, 0.01), new Sensitivity.Layer("c", 100, 0, 0.001));

    private static final List<Integer> W348 = MixedPrecision.defaultWidths(4);

    @Test
    void theBudgetGoesWhereThePredictedLossFallsMostPerBit() {
        // From all at 3 bits (900 bit·weights) under 1600: per added bit·weight, a 3→4 saves 0.003, b 3→4 0.0003,
        // a 4→8 0.1·(1 − 1/256)/400 = 0.000249, c 3→4 0.00003: a→4, b→4, a→8, c→4; then b→8 would need 400 more.
        Map<String, Integer> w = MixedPrecision.allocate(RANKING, 4, W348, 1600 / 300.0);
        assertEquals(Map.of("a", 8, "b", 4, "c", 4), w);
        assertEquals(1600 / 300.0, MixedPrecision.averageBits(RANKING, w), 1e-12);
        // 4.0: a→4, then a→8 (400) no longer fits: b→4, c→4; uniform
        assertEquals(Map.of("a", 4, "b", 4, "c", 4), MixedPrecision.allocate(RANKING, 4, W348, 4.0));
        // 3.5: room for one layer and a half: a→4 only
        assertEquals(Map.of("a", 4, "b", 3, "c", 3), MixedPrecision.allocate(RANKING, 4, W348, 3.5));
        assertEquals(Map.of("a", 3, "b", 3, "c", 3), MixedPrecision.allocate(RANKING, 4, W348, 3.0));
        assertEquals(Map.of("a", 8, "b", 8, "c", 8), MixedPrecision.allocate(RANKING, 4, W348, 8.0));
        // measured at 3 bits, the same losses predict 4× less at 4: the order of the steps is the same
        assertEquals(Map.of("a", 8, "b", 4, "c", 4), MixedPrecision.allocate(RANKING, 3, W348, 1600 / 300.0));
    }

    @Test
    void aSizeBudgetCountsScalesZeroPointsAndTheOtherTensors() {
        // groups of 10 with 32-bit scales and w-bit zero points: a layer of 100 weights at w bits takes 100·w + 10·(32 + w) = 110·w + 320 bits
        MixedPrecision.Stored stored = new MixedPrecision.Stored(10, 32, true);
        assertEquals(110 * 4 + 320, stored.bits(100, 4), 1e-9);
        // 500 bytes of other tensors; all at 4 bits: 3·760 = 2280 bits = 285 bytes → 785 bytes is uniform 4 bits (a 3→4 costs 110 bits)
        List<Integer> w48 = List.of(4, 8);
        assertEquals(Map.of("a", 4, "b", 4, "c", 4), MixedPrecision.allocateSize(RANKING, 4, w48, 785, 500, stored));
        // 440 bits more pay for a→8 (4·110) and no more
        assertEquals(Map.of("a", 8, "b", 4, "c", 4), MixedPrecision.allocateSize(RANKING, 4, w48, 785 + 55, 500, stored));
        assertEquals(Map.of("a", 8, "b", 4, "c", 4), MixedPrecision.allocateSize(RANKING, 4, w48, 785 + 55 + 54, 500, stored));
        FmsmoException small = assertThrows(FmsmoException.class, () -> MixedPrecision.allocateSize(RANKING, 4, w48, 784, 500, stored));
        assertEquals("--target-size 784 bytes: expected from 785 (every ranked layer at 4 bits) to 950 (at 8 bits), counting 500 bytes of the"
                + " other tensors", small.getMessage());
    }

    @Test
    void widthsAFormatCanPackAreKept() {
        // 4 and 8 only: from all at 4 (1200) under 1600, a→8 (0.1·15/16/400 per bit·weight first), then b→8 needs 2000
        assertEquals(Map.of("a", 8, "b", 4, "c", 4), MixedPrecision.allocate(RANKING, 4, List.of(4, 8), 1600 / 300.0));
        assertEquals(Map.of("a", 4, "b", 4, "c", 4), MixedPrecision.allocate(RANKING, 4, List.of(4, 8), 4.0));
    }

    @Test
    void aBudgetOutOfRangeOrNoRankingIsRefused() {
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(RANKING, 4, W348, 2.9));
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(RANKING, 4, W348, 8.5));
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(RANKING, 4, W348, Double.NaN));
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(List.of(), 4, W348, 4));
        assertThrows(FmsmoException.class, () -> MixedPrecision.defaultWidths(8));
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(RANKING, 4, List.of(4, 3, 8), 4));
        assertThrows(FmsmoException.class, () -> MixedPrecision.allocate(RANKING, 4, List.of(1, 4), 2));
    }
}
