package org.fmsmo.plugin.cpu;

import java.util.stream.IntStream;

/**
 * The int8 × int8 → int32 matrix product {@code acc[t][o] = Σ_k x[t][k] · w[o][k]}, tiled for
 * the caches and spread over the common fork-join pool.
 *
 * <p>The weights are packed once per layer ({@link #pack}) into panels of {@code cols} output
 * rows, each stored K-major so that the kernel streams it. Tokens are padded to a multiple of
 * {@link Int8Kernel#ROWS} and outputs to whole panels (zero codes add nothing); the accumulators
 * keep that padded row length. The output is cut into blocks of whole panels, one task each: a
 * block's weight panels stay in L2 while its token panels pass them, and its activation rows are
 * sized to stay there too.
 *
 * <p>With an inexact {@link Accumulation} the K loop runs chunk by chunk and each chunk's partial
 * sums go through the emulated accumulator.
 */
final class Int8Gemm {

    /**
     * Work done on each finished block of accumulators inside its task (zero-point correction,
     * rescaling to float), while the block is still in cache and on all cores.
     */
    @FunctionalInterface
    interface Epilogue {
        /** Called once per block {@code [t0, t1) × [o0, o1)} (real tokens and outputs only) of {@code acc}, row length {@code ld}. */
        void finish(int[] acc, int ld, int t0, int t1, int o0, int o1);
    }

    /** Weight codes in panels: panel p holds rows {@code [p·cols, (p+1)·cols)} as {@code [in][cols]} bytes, zero past {@code out}. */
    record PackedWeights(byte[] data, int out, int in, int cols) {
        int panels() {
            return (out + cols - 1) / cols;
        }
    }

    /**
     * Accumulators {@code [tokens][out]}, stored with row length {@code ld} (whole panels), in the
     * calling thread's {@link Scratch}: valid until that thread's next product.
     */
    record Accumulators(int[] values, int ld) {
        int get(int t, int o) {
            return values[t * ld + o];
        }

        /** A copy as a plain {@code [tokens][out]} array. */
        int[] compact(int tokens, int out) {
            int[] c = new int[tokens * out];
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(values, t * ld, c, t * out, out);
            }
            return c;
        }
    }

    /** Weight panels per task. */
    static final int PANELS_PER_BLOCK = 4;
    /** Activation bytes (as ints) a task's token block may hold, so that it stays in L2 next to the weight panels. */
    private static final int TOKEN_BLOCK_BYTES = 256 * 1024;

    private Int8Gemm() {
    }

    /** Packs row-major {@code [out][in]} weight codes into panels of {@code cols} rows. */
    static PackedWeights pack(byte[] w, int out, int in, int cols) {
        int panels = (out + cols - 1) / cols;
        byte[] data = new byte[panels * in * cols];
        for (int o = 0; o < out; o++) {
            int base = (o / cols) * in * cols + o % cols;
            for (int k = 0; k < in; k++) {
                data[base + k * cols] = w[o * in + k];
            }
        }
        return new PackedWeights(data, out, in, cols);
    }

    /**
     * @param x      activation codes {@code [tokens][in]}, |x| ≤ 128; rows past {@code tokens}
     *               up to a multiple of {@link Int8Kernel#ROWS} may be present (they are ignored)
     * @param mode   how the accumulator behaves
     * @param epilogue run on each finished block, or null
     */
    static Accumulators multiply(int[] x, int tokens, PackedWeights w, Accumulation mode, Int8Kernel kernel, Epilogue epilogue) {
        if (w.cols() != kernel.cols()) {
            throw new IllegalArgumentException("weights packed " + w.cols() + " wide for a kernel of " + kernel.cols());
        }
        int in = w.in();
        final int rows = Int8Kernel.ROWS;
        int paddedTokens = (tokens + rows - 1) / rows * rows;
        int[] xp = x.length >= paddedTokens * in ? x : java.util.Arrays.copyOf(x, paddedTokens * in);
        int cols = w.cols();
        int ld = w.panels() * cols;
        int[] acc = Scratch.accumulators(paddedTokens * ld); // every entry is overwritten by the kernel
        int tokenBlock = Math.max(rows, Math.min(8 * rows, TOKEN_BLOCK_BYTES / (4 * Math.max(1, in)) / rows * rows));
        int tokenBlocks = (paddedTokens + tokenBlock - 1) / tokenBlock;
        int panelBlocks = (w.panels() + PANELS_PER_BLOCK - 1) / PANELS_PER_BLOCK;
        int chunk = mode.exact() || mode.chunkSize() == 0 ? in : mode.chunkSize();
        IntStream.range(0, tokenBlocks * panelBlocks).parallel().forEach(task -> {
            int t0 = (task % tokenBlocks) * tokenBlock;
            int t1 = Math.min(paddedTokens, t0 + tokenBlock);
            int p0 = (task / tokenBlocks) * PANELS_PER_BLOCK;
            int p1 = Math.min(w.panels(), p0 + PANELS_PER_BLOCK);
            block(xp, w, acc, ld, t0, t1, p0, p1, chunk, mode, kernel);
            if (epilogue != null && t0 < tokens && p0 * cols < w.out()) {
                epilogue.finish(acc, ld, t0, Math.min(t1, tokens), p0 * cols, Math.min(p1 * cols, w.out()));
            }
        });
        return new Accumulators(acc, ld);
    }

    private static void block(int[] x, PackedWeights w, int[] acc, int ld, int t0, int t1, int p0, int p1, int chunk,
                              Accumulation mode, Int8Kernel kernel) {
        int in = w.in();
        int cols = w.cols();
        final int rows = Int8Kernel.ROWS;
        int[] partial = mode.exact() ? null : new int[rows * cols];
        int[] running = mode.exact() ? null : new int[rows * cols];
        for (int p = p0; p < p1; p++) {
            int panel = p * in * cols;
            for (int t = t0; t < t1; t += rows) {
                if (mode.exact()) {
                    kernel.panel(x, t * in, in, w.data(), panel, 0, in, acc, t * ld + p * cols, ld);
                    continue;
                }
                java.util.Arrays.fill(running, 0);
                for (int k = 0; k < in; k += chunk) {
                    kernel.panel(x, t * in, in, w.data(), panel, k, Math.min(in, k + chunk), partial, 0, cols);
                    for (int i = 0; i < partial.length; i++) {
                        running[i] = mode.add(running[i], partial[i]);
                    }
                }
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(running, i * cols, acc, (t + i) * ld + p * cols, cols);
                }
            }
        }
    }
}
