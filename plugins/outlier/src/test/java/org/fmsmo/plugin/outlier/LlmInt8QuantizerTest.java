package org.fmsmo.plugin.outlier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.junit.jupiter.api.Test;

/** The LLM.int8 activation quantizer on batches worked out by hand. */
class LlmInt8QuantizerTest {

    /** Two tokens, four channels; channel 2 holds an 8, past the threshold of 6. */
    private static final float[] X = {1f, 0.5f, 8f, -0.25f, 2f, -1f, 0.1f, 0.5f};

    private static LlmInt8Quantizer quantizer(float threshold) {
        LlmInt8Quantizer q = (LlmInt8Quantizer) new LlmInt8QuantizerProvider().create(QuantSpec.parse("int8-sym-token-dynamic"));
        q.loadState(Map.of("threshold", new float[] {threshold}));
        return q;
    }

    @Test
    void outlierChannelsStayFloatAndTheRestArePerTokenInt8() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(X, new Shape(2, 4));
            // token 0: inliers 1, 0.5, −0.25 → s = 1/127; 0.5·127 = 63.5 rounds to 64 (half to even), −0.25·127 = −31.75 to −32
            // token 1: inliers 2, −1, 0.5 → s = 2/127; −1 → −63.5 → −64, 0.5 → 31.75 → 32; channel 2 passes 8 and 0.1 through
            float s0 = 1f / 127;
            float s1 = 2f / 127;
            float[] expected = {127 * s0, 64 * s0, 8f, -32 * s0, 127 * s1, -64 * s1, 0.1f, 32 * s1};
            assertArrayEquals(expected, quantizer(6f).fakeQuantize(x).toFloatArray(), 1e-6f);
            QuantizedTensor t = quantizer(6f).quantize(x);
            assertArrayEquals(new byte[] {127, 64, 0, -32, 127, -64, 0, 32}, t.codes().toByteArray(), "the outlier channel's codes are 0");
            assertArrayEquals(new float[] {s0, s1}, t.scale().toFloatArray(), 1e-9f);
            // past 8 nothing is an outlier: token 0's scale is 8/127 and the small values round on that grid
            float s = 8f / 127;
            assertArrayEquals(new float[] {16 * s, 8 * s, 127 * s, -4 * s}, java.util.Arrays.copyOf(quantizer(9f).fakeQuantize(x).toFloatArray(), 4),
                    1e-6f);
        }
    }

    @Test
    void observingCountsTheOutlierChannelsPerBatch() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlmInt8Quantizer q = quantizer(0.9f);
            q.observe(m.create(X, new Shape(2, 4))); // channels 0 (1, 2), 1 (1) and 2 (8): 3 of 4
            q.observe(m.create(new float[] {0.1f, 0.2f, 0.3f, 0.95f}, new Shape(1, 4))); // channel 3: 1 of 4
            assertEquals((0.75 + 0.25) / 2, q.outlierFraction(), 1e-12);
            assertEquals(3, q.maxOutliers());
            assertEquals(Map.of("threshold", 0.9f), Map.of("threshold", q.state().get("threshold")[0]));
        }
    }

    @Test
    void onlySymmetricPerTokenIntSpecsAndAPositiveThreshold() {
        LlmInt8QuantizerProvider p = new LlmInt8QuantizerProvider();
        assertThrows(FmsmoException.class, () -> p.create(QuantSpec.parse("int8-sym-tensor-minmax")));
        assertThrows(FmsmoException.class, () -> quantizer(6f).loadState(Map.of("threshold", new float[] {0f})));
        assertThrows(FmsmoException.class, () -> quantizer(6f).loadState(Map.of("clip_val", new float[] {1f})));
    }
}
