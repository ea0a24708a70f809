package org.fmsmo.plugin.awq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * A layer's relative output error on its stage's input, {@code ‖X(W − Ŵ)ᵀ‖ / ‖XWᵀ‖}, with W the
 * float weight AWQ started from (scaled, unclipped) and Ŵ what was frozen, both mapped back to the
 * unscaled input the statistics hold. Measured on {@value #ROWS} evenly spaced rows: on all of
 * them it would cost as much as the search at 8B shapes.
 */
final class OutputError {

    /** Rows the error is measured on. */
    static final int ROWS = 64;

    private OutputError() {
    }

    /** Row {@code k} of the sample: evenly spaced over {@code out}. */
    private static long row(int k, long out) {
        return (long) k * out / Math.min(out, ROWS);
    }

    /** The sampled rows of {@code w / s} (per column; {@code s} null: w), row-major {@code [min(out, ROWS), in]}. */
    static float[] sampleRows(NDArray w, float[] s) {
        long out = w.getShape().get(0);
        int in = Math.toIntExact(w.getShape().get(1));
        int rows = (int) Math.min(out, ROWS);
        float[] sample = new float[rows * in];
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            for (int k = 0; k < rows; k++) {
                System.arraycopy(w.get(row(k, out)).toFloatArray(), 0, sample, k * in, in);
            }
        }
        if (s != null) {
            for (int k = 0; k < rows; k++) {
                for (int c = 0; c < in; c++) {
                    sample[k * in + c] /= s[c];
                }
            }
        }
        return sample;
    }

    /** The relative output error of {@code frozen} (whose weight includes the scale s) against the sampled rows. */
    static double relative(InputStats stats, float[] sampled, QuantizedTensor frozen, float[] s) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray q = frozen.dequantize();
            long out = q.getShape().get(0);
            int in = Math.toIntExact(q.getShape().get(1));
            int rows = sampled.length / in;
            float[] e = new float[sampled.length];
            for (int k = 0; k < rows; k++) {
                float[] qr = q.get(row(k, out)).toFloatArray();
                for (int c = 0; c < in; c++) {
                    e[k * in + c] = sampled[k * in + c] - (s == null ? qr[c] : qr[c] / s[c]);
                }
            }
            Shape shape = new Shape(rows, in);
            double den = stats.outputError(q.getManager().create(sampled, shape));
            return den > 0 ? Math.sqrt(stats.outputError(q.getManager().create(e, shape)) / den) : 0;
        }
    }
}
