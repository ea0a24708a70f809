package org.fmsmo.plugin.cpu;

import java.util.stream.IntStream;

/**
 * The int8 × int8 → int32 matrix product {@code acc[t][o] = Σ_k x[t][k] · w[o][k]}, tiled for
 * the caches and spread over the common fork-join pool.
 *
 * <p>The output is cut into blocks of {@value #TOKEN_BLOCK} tokens × {@value #ROW_BLOCK} weight
 * rows, one task each: a block's weight rows (64 × K bytes) stay in L2 while its tokens stream
 * past them, and inside a block the kernel keeps a 4 × 4 register tile. Rows and tokens that do
 * not fill a tile are summed one dot product at a time.
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
        /** Called once per block {@code [t0, t1) × [o0, o1)} of {@code acc} ({@code [tokens][out]}), blocks in parallel. */
        void finish(int[] acc, int t0, int t1, int o0, int o1);
    }

    static final int TOKEN_BLOCK = 32;
    static final int ROW_BLOCK = 64;

    private Int8Gemm() {
    }

    /**
     * @param x      activation codes {@code [tokens][in]}, |x| ≤ 128
     * @param w      weight codes {@code [out][in]}
     * @param mode   how the accumulator behaves
     * @return {@code [tokens][out]} accumulators
     */
    static int[] multiply(int[] x, int tokens, byte[] w, int out, int in, Accumulation mode, Int8Kernel kernel) {
        return multiply(x, tokens, w, out, in, mode, kernel, null);
    }

    /**
     * As {@link #multiply(int[], int, byte[], int, int, Accumulation, Int8Kernel)}, with work on each finished block.
     *
     * @param epilogue run on each finished block, or null
     */
    static int[] multiply(int[] x, int tokens, byte[] w, int out, int in, Accumulation mode, Int8Kernel kernel, Epilogue epilogue) {
        int[] acc = new int[tokens * out];
        int tokenBlocks = (tokens + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        int rowBlocks = (out + ROW_BLOCK - 1) / ROW_BLOCK;
        int chunk = mode.exact() || mode.chunkSize() == 0 ? in : mode.chunkSize();
        IntStream.range(0, tokenBlocks * rowBlocks).parallel().forEach(task -> {
            int t0 = (task % tokenBlocks) * TOKEN_BLOCK;
            int o0 = (task / tokenBlocks) * ROW_BLOCK;
            int t1 = Math.min(tokens, t0 + TOKEN_BLOCK);
            int o1 = Math.min(out, o0 + ROW_BLOCK);
            block(x, w, acc, in, out, t0, t1, o0, o1, chunk, mode, kernel);
            if (epilogue != null) {
                epilogue.finish(acc, t0, t1, o0, o1);
            }
        });
        return acc;
    }

    private static void block(int[] x, byte[] w, int[] acc, int in, int out, int t0, int t1, int o0, int o1, int chunk,
                              Accumulation mode, Int8Kernel kernel) {
        final int tile = Int8Kernel.TILE;
        int[] partial = new int[tile * tile];
        int[] running = new int[tile * tile];
        int oTiles = o0 + (o1 - o0) / tile * tile;
        int tTiles = t0 + (t1 - t0) / tile * tile;
        for (int o = o0; o < oTiles; o += tile) {
            for (int t = t0; t < tTiles; t += tile) {
                java.util.Arrays.fill(running, 0);
                for (int k = 0; k < in; k += chunk) {
                    kernel.tile(x, t * in, w, o * in, in, k, Math.min(in, k + chunk), partial);
                    for (int i = 0; i < partial.length; i++) {
                        running[i] = mode.exact() ? partial[i] : mode.add(running[i], partial[i]);
                    }
                }
                for (int i = 0; i < tile; i++) {
                    System.arraycopy(running, i * tile, acc, (t + i) * out + o, tile);
                }
            }
        }
        // the edges: tokens past the last full tile (all rows), rows past the last full tile (tiled tokens)
        for (int t = tTiles; t < t1; t++) {
            for (int o = o0; o < o1; o++) {
                acc[t * out + o] = dot(x, t * in, w, o * in, in, chunk, mode, kernel);
            }
        }
        for (int t = t0; t < tTiles; t++) {
            for (int o = oTiles; o < o1; o++) {
                acc[t * out + o] = dot(x, t * in, w, o * in, in, chunk, mode, kernel);
            }
        }
    }

    private static int dot(int[] x, int x0, byte[] w, int w0, int in, int chunk, Accumulation mode, Int8Kernel kernel) {
        if (mode.exact()) {
            return kernel.dot(x, x0, w, w0, 0, in);
        }
        int running = 0;
        for (int k = 0; k < in; k += chunk) {
            running = mode.add(running, kernel.dot(x, x0, w, w0, k, Math.min(in, k + chunk)));
        }
        return running;
    }
}
