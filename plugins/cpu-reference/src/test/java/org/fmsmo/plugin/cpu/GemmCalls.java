package org.fmsmo.plugin.cpu;

/** The tiled GEMM called the way the tests want it: row-major weights in, plain {@code [tokens][out]} accumulators out. */
final class GemmCalls {

    private GemmCalls() {
    }

    static int[] multiply(int[] x, int tokens, byte[] w, int out, int in, Accumulation mode, Int8Kernel kernel) {
        return Int8Gemm.multiply(x, tokens, Int8Gemm.pack(w, out, in, kernel.cols()), mode, kernel, null).compact(tokens, out);
    }
}
