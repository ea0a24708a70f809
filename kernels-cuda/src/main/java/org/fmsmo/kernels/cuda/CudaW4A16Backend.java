package org.fmsmo.kernels.cuda;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.BackendCapabilities.Scheme;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * Weight-only INT (up to 4 bits) layers on GPU 0 through {@link W4A16Gemm}: symmetric codes are
 * shifted by 8 into 0..15, asymmetric ones keep their zero points; per-tensor and per-channel
 * scales become one group per row; act-order group indices are honoured. Scales are rounded to
 * FP16, as GPTQ checkpoints store them, and so are the activations.
 */
final class CudaW4A16Backend implements DeployBackend {

    static final String NAME = "cuda-w4a16";
    static final Scheme W4A16 = new Scheme("W4A16-int", QuantType.INT, 4,
            EnumSet.of(Granularity.GROUP, Granularity.CHANNEL, Granularity.TENSOR), true, null, Set.of(), false);

    private final CudaDevice gpu;
    private final BackendCapabilities capabilities = new BackendCapabilities("cuda:0", List.of(W4A16));
    private boolean closed;

    CudaW4A16Backend(Path driver) {
        gpu = new CudaDevice(driver);
        if (gpu.capability < 80) {
            String has = gpu.name + " has " + gpu.capabilityText();
            gpu.close();
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, NAME + " needs compute capability 8.0 or newer; " + has);
        }
    }

    @Override
    public BackendCapabilities capabilities() {
        return capabilities;
    }

    @Override
    public PreparedLinear prepare(FrozenLinear layer) {
        capabilities.requireSupported(NAME, layer);
        QuantizedTensor w = layer.weight();
        QuantSpec spec = w.spec();
        int out = Math.toIntExact(w.shape().get(0));
        int in = Math.toIntExact(w.shape().get(1));
        byte[] codes = w.codes().toByteArray();
        if (spec.symmetric()) {
            for (int i = 0; i < codes.length; i++) {
                codes[i] = (byte) (codes[i] + 8);
            }
        }
        int group = spec.granularity() == Granularity.GROUP ? spec.groupSize() : 0;
        int groups = group == 0 ? 1 : (in + group - 1) / group;
        float[] scales = perRow(w.scale().toFloatArray(), out, groups);
        int[] zeros = w.zeroPoint().map(z -> perRow(z.toIntArray(), out, groups)).orElse(null);
        int[] groupIndex = w.groupIndex().map(NDArray::toIntArray).orElse(null);
        float[] bias = layer.bias() == null ? null : layer.bias().toFloatArray();
        return new CudaLinear(new W4A16Gemm(gpu, codes, scales, zeros, bias, out, in, group, groupIndex));
    }

    /** [out][groups] from a per-tensor [1] or per-row array. */
    private static float[] perRow(float[] v, int out, int groups) {
        if (v.length == out * groups) {
            return v;
        }
        float[] r = new float[out * groups];
        java.util.Arrays.fill(r, v[0]);
        return r;
    }

    private static int[] perRow(int[] v, int out, int groups) {
        if (v.length == out * groups) {
            return v;
        }
        int[] r = new int[out * groups];
        java.util.Arrays.fill(r, v[0]);
        return r;
    }

    @Override
    public Map<String, Object> diagnostics() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", gpu.name);
        m.put("compute_capability", gpu.capabilityText());
        m.put("gemm", "w4a16_gemv (mma.sync, 1-16 tokens)" + (gpu.hopper() ? "; w4_dequant + hopper_f16_rescale_n256 (wgmma) above 16 tokens"
                : "; the same GEMV in 16-token slices above 16 tokens"));
        m.put("kernels", "nvcc " + Kernels.builtWith());
        return m;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        gpu.close();
    }
}
