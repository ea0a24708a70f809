package org.fmsmo.plugin.awq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.fmsmo.api.quant.QuantContext;

/**
 * What AWQ keeps of one stage's input X ({@code [tokens, in]} over all calibration batches): the
 * mean magnitude of each input channel (the activation awareness), and enough of X to measure
 * the output error {@code ‖X·Eᵀ‖²} that a weight error E causes. That is either the Gram matrix
 * {@code XᵀX} over every token ({@code in²} floats, exact) or, for wide inputs where {@code in²}
 * is more than a token sample costs, up to {@code sampleRows} tokens drawn uniformly at random
 * (reservoir sampling, seeded: the same run gives the same sample). Both answers are per token.
 */
final class InputStats implements AutoCloseable {

    private final int in;
    private final NDManager manager;
    private final double[] absSum;
    private long tokens;
    /** Σ xᵀx, {@code [in, in]}; null when rows are sampled. */
    private NDArray gram;
    /** The sampled tokens, row-major {@code [kept, in]}; null when the Gram matrix is kept. */
    private final float[] sample;
    private int kept;
    private final SplittableRandom random;

    /**
     * @param sampleRows the most tokens kept when the Gram matrix would be larger than them
     *                   ({@code in > sampleRows})
     */
    private InputStats(int in, int sampleRows, long seed, NDManager owner) {
        this.in = in;
        this.manager = owner.newSubManager();
        this.absSum = new double[in];
        boolean exact = in <= sampleRows;
        this.gram = exact ? manager.zeros(new Shape(in, in)) : null;
        this.sample = exact ? null : new float[Math.multiplyExact(sampleRows, in)];
        this.random = new SplittableRandom(seed);
    }

    /** Runs the stage's capture once and keeps its statistics. */
    static InputStats capture(QuantContext.LayerInputs inputs, int in, int sampleRows, long seed, NDManager owner) {
        InputStats s = new InputStats(in, sampleRows, seed, owner);
        try {
            inputs.forEach(s::add);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    /** Adds one batch, {@code [n, in]} FLOAT32. */
    void add(NDArray x) {
        int n = Math.toIntExact(x.getShape().get(0));
        try (NDScope scope = new NDScope()) { // the batch's temporaries are freed now
            scope.suppressNotUsedWarning();
            NDArray xs = x.toType(DataType.FLOAT32, false);
            float[] colAbs = xs.abs().sum(new int[] {0}).toFloatArray();
            for (int j = 0; j < in; j++) {
                absSum[j] += colAbs[j];
            }
            if (gram != null) {
                gram.addi(xs.transpose().matMul(xs));
            } else {
                reservoir(xs.toFloatArray(), n);
            }
        }
        tokens += n;
    }

    /** Algorithm R over rows: row t of the stream replaces a random kept row with probability k/(t+1). */
    private void reservoir(float[] rows, int n) {
        int capacity = sample.length / in;
        for (int r = 0; r < n; r++) {
            long seen = tokens + r;
            int slot;
            if (kept < capacity) {
                slot = kept++;
            } else {
                long j = random.nextLong(seen + 1);
                if (j >= capacity) {
                    continue;
                }
                slot = (int) j;
            }
            System.arraycopy(rows, r * in, sample, slot * in, in);
        }
    }

    long tokens() {
        return tokens;
    }

    int inFeatures() {
        return in;
    }

    /** Whether the errors are exact over every token (the Gram matrix) rather than over a sample. */
    boolean exact() {
        return gram != null;
    }

    /** Mean |x_j| over every token, per input channel. */
    float[] meanAbs() {
        float[] m = new float[in];
        for (int j = 0; j < in; j++) {
            m[j] = tokens == 0 ? 0 : (float) (absSum[j] / tokens);
        }
        return m;
    }

    /** The sampled tokens as an array in {@code m}. */
    private NDArray rows(NDManager m) {
        float[] used = kept * in == sample.length ? sample : java.util.Arrays.copyOf(sample, kept * in);
        return m.create(used, new Shape(kept, in));
    }

    /**
     * The mean squared output error per token, {@code Σ_t ‖x_t·Eᵀ‖² / T}, of a weight error
     * {@code e} ({@code [out, in]}): {@code Σ (E·G) ⊙ E / T} with the Gram matrix, else over the
     * sampled tokens.
     */
    double outputError(NDArray e) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray err = e.toType(DataType.FLOAT32, false);
            if (gram != null) {
                double sum = err.matMul(gram).mul(err).sum().toType(DataType.FLOAT64, false).getDouble();
                return tokens == 0 ? 0 : sum / tokens;
            }
            if (kept == 0) {
                return 0;
            }
            NDArray y = rows(err.getManager()).matMul(err.transpose());
            return y.square().sum().toType(DataType.FLOAT64, false).getDouble() / kept;
        }
    }

    /**
     * The mean squared output error per token that each (row, column group) of a weight error
     * {@code e} causes alone: {@code [out, groups]}, entry {@code (r, k)} = {@code Σ_t (x_{t,k}·e_{r,k})² / T}
     * over group k's columns (the last group may be narrower). With the Gram matrix this reads only
     * its diagonal blocks.
     */
    float[] groupErrors(NDArray e, int groupSize, int out) {
        int groups = (in + groupSize - 1) / groupSize;
        float[] result = new float[out * groups];
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray err = e.toType(DataType.FLOAT32, false);
            NDArray x = gram == null ? rows(err.getManager()) : null;
            double norm = gram != null ? Math.max(1, tokens) : Math.max(1, kept);
            for (int k = 0; k < groups; k++) {
                int from = k * groupSize;
                int to = Math.min(in, from + groupSize);
                NDArray ek = err.get(new NDIndex(":, {}:{}", from, to));
                float[] perRow;
                if (gram != null) {
                    NDArray gk = gram.get(new NDIndex("{}:{}, {}:{}", from, to, from, to));
                    perRow = ek.matMul(gk).mul(ek).sum(new int[] {1}).toFloatArray();
                } else {
                    NDArray xk = x.get(new NDIndex(":, {}:{}", from, to));
                    perRow = xk.matMul(ek.transpose()).square().sum(new int[] {0}).toFloatArray();
                }
                for (int r = 0; r < out; r++) {
                    result[r * groups + k] = (float) (perRow[r] / norm);
                }
            }
        }
        return result;
    }

    @Override
    public void close() {
        manager.close();
    }
}
