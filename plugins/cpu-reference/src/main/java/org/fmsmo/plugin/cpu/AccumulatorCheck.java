package org.fmsmo.plugin.cpu;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.IntStream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * {@code verify_accumulators=true}: every accumulator a layer produced is recomputed as a plain
 * long-integer sum {@code Σ_k (q[t][k] − zp[t])·w[o][k]}, sharing nothing with the tiled GEMM but the
 * codes. A difference stops the run with the layer and position; otherwise the counts go to the
 * report.
 */
final class AccumulatorCheck {

    private final Set<String> layers = ConcurrentHashMap.newKeySet();
    private final LongAdder accumulators = new LongAdder();
    private final LongAdder forwards = new LongAdder();

    /** @param zx each token's input zero point, or null for a symmetric input */
    void verify(String layer, int[] qx, int[] zx, int tokens, byte[] w, int out, int in, Int8Gemm.Accumulators acc) {
        IntStream.range(0, tokens).parallel().forEach(t -> {
            int zeroPoint = zx == null ? 0 : zx[t];
            for (int o = 0; o < out; o++) {
                long exact = 0;
                for (int k = 0; k < in; k++) {
                    exact += (long) (qx[t * in + k] - zeroPoint) * w[o * in + k];
                }
                if (exact != acc.get(t, o)) {
                    throw new FmsmoException(ErrorCode.INTERNAL, "cpu-reference: layer " + layer + " accumulator [token " + t
                            + "][row " + o + "] is " + acc.get(t, o) + ", the exact sum is " + exact);
                }
            }
        });
        layers.add(layer);
        accumulators.add((long) tokens * out);
        forwards.increment();
    }

    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layers", layers.size());
        m.put("forwards", forwards.sum());
        m.put("accumulators", accumulators.sum());
        m.put("mismatches", 0);
        return m;
    }
}
