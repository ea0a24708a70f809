package org.fmsmo.kernels.cuda;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Granularity;

/**
 * One W8A8 layer on the GPU. The weight codes (rows zero-padded to a multiple of 32 bytes along
 * K, which adds nothing to any sum), per-row scales and bias are uploaded once; each forward
 * uploads the input, quantizes it on the GPU exactly as the simulation does, runs the GEMM into
 * int32 (or FP32 for FP8) accumulators, rescales, and downloads the output. Work buffers are kept
 * and grown. One forward at a time.
 */
final class CudaLinear implements PreparedLinear {

    /** K padding: the GEMM kernels consume K in steps of 32 bytes. */
    static final int K_STEP = 32;

    private final CudaBackend gpu;
    private final int out;
    private final int in;
    private final int kp;
    private final long weight;
    private final long weightScale;
    private final long bias;
    private final float staticScale;
    private final int qmax;
    private long[] work = new long[0]; // x, q, sx, acc, y
    private int workTokens;
    private boolean closed;

    CudaLinear(CudaBackend gpu, FrozenLinear layer) {
        this.gpu = gpu;
        Shape s = layer.weight().shape();
        out = Math.toIntExact(s.get(0));
        in = Math.toIntExact(s.get(1));
        kp = (in + K_STEP - 1) / K_STEP * K_STEP;
        byte[] codes = layer.weight().codes().toByteArray();
        byte[] padded = new byte[out * kp];
        for (int o = 0; o < out; o++) {
            System.arraycopy(codes, o * in, padded, o * kp, in);
        }
        float[] scales = layer.weight().scale().toFloatArray();
        float[] perRow = new float[out];
        for (int o = 0; o < out; o++) {
            perRow[o] = scales.length == 1 ? scales[0] : scales[o];
        }
        staticScale = layer.inputSpec().granularity() == Granularity.TOKEN ? Float.NaN : layer.inputScale().toFloatArray()[0];
        qmax = (1 << (layer.inputSpec().bits() - 1)) - 1;
        gpu.api.setCurrent(gpu.context);
        weight = upload(MemorySegment.ofArray(padded));
        weightScale = upload(MemorySegment.ofArray(perRow));
        bias = layer.bias() == null ? 0L : upload(MemorySegment.ofArray(layer.bias().toFloatArray()));
    }

    private long upload(MemorySegment host) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment offHeap = a.allocate(host.byteSize(), 16);
            offHeap.copyFrom(host);
            long p = gpu.api.malloc(host.byteSize());
            gpu.api.copyToDevice(p, offHeap);
            return p;
        }
    }

    @Override
    public synchronized NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        int tokens = Math.toIntExact(shape.size() / in);
        gpu.api.setCurrent(gpu.context);
        ensureWork(tokens);
        long dx = work[0], dq = work[1], dsx = work[2], dacc = work[3], dy = work[4];
        float[] y = new float[tokens * out];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hostX = a.allocate((long) tokens * in * Float.BYTES, 16);
            MemorySegment.copy(x.toFloatArray(), 0, hostX, ValueLayout.JAVA_FLOAT, 0, tokens * in);
            gpu.api.copyToDevice(dx, hostX);
            boolean int8 = gpu.kind == GemmKind.INT8;
            if (Float.isNaN(staticScale)) {
                Object[] args = int8 ? new Object[] {dx, dq, dsx, tokens, in, kp, qmax} : new Object[] {dx, dq, dsx, tokens, in, kp};
                gpu.api.launch(gpu.quantizePerToken, tokens, 1, 256, args);
            } else {
                Object[] args = int8 ? new Object[] {dx, dq, staticScale, tokens, in, kp, qmax} : new Object[] {dx, dq, staticScale, tokens, in, kp};
                gpu.api.launch(gpu.quantizeStatic, blocks((long) tokens * kp), 1, 256, args);
                fillScale(a, dsx, tokens);
            }
            if (int8) {
                gpu.api.launch(gpu.gemm, (out + 127) / 128, (tokens + 127) / 128, 256, dq, weight, dacc, tokens, out, kp);
            } else {
                gpu.api.launch(gpu.gemm, (out + 63) / 64, (tokens + 63) / 64, 128, dq, weight, dacc, tokens, out, kp);
            }
            long n = (long) tokens * out;
            gpu.api.launch(gpu.rescale, blocks(n), 1, 256, dacc, dsx, weightScale, bias, dy, tokens, out, bias == 0L ? 0 : 1);
            MemorySegment hostY = a.allocate(n * Float.BYTES, 16);
            gpu.api.copyToHost(hostY, dy); // synchronous: waits for the kernels
            MemorySegment.copy(hostY, ValueLayout.JAVA_FLOAT, 0, y, 0, y.length);
        }
        long[] outShape = shape.getShape().clone();
        outShape[outShape.length - 1] = out;
        return x.getManager().create(y, new Shape(outShape));
    }

    /**
     * The static quantize kernels have no scale output: the per-token scale array is filled with
     * the calibrated scale so that one rescale kernel serves both cases.
     */
    private void fillScale(Arena a, long dsx, int tokens) {
        MemorySegment s = a.allocate((long) tokens * Float.BYTES, 16);
        for (int t = 0; t < tokens; t++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, t, staticScale);
        }
        gpu.api.copyToDevice(dsx, s);
    }

    private static int blocks(long n) {
        return Math.toIntExact((n + 255) / 256);
    }

    private void ensureWork(int tokens) {
        if (tokens <= workTokens) {
            return;
        }
        freeWork();
        long t = tokens;
        work = new long[] {gpu.api.malloc(t * in * 4), gpu.api.malloc(t * kp), gpu.api.malloc(t * 4), gpu.api.malloc(t * out * 4),
            gpu.api.malloc(t * out * 4)};
        workTokens = tokens;
    }

    private void freeWork() {
        for (long p : work) {
            gpu.api.free(p);
        }
        work = new long[0];
        workTokens = 0;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            gpu.api.setCurrent(gpu.context);
            freeWork();
            gpu.api.free(weight);
            gpu.api.free(weightScale);
            if (bias != 0L) {
                gpu.api.free(bias);
            }
        } catch (RuntimeException e) {
            // close never throws: a failing driver at shutdown leaves nothing we could free anyway
        }
    }
}
