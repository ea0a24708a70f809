package org.fmsmo.kernels.cuda;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;

/**
 * A W8A8 GPU backend ({@code cuda-int8}, {@code cuda-fp8}) on device 0. Creation fails with the
 * driver's reason when there is no device, or when the GPU is older than the kernels need. The
 * GEMM is chosen once: the Hopper wgmma kernels on a compute capability 9.0 GPU, the portable
 * mma.sync kernels elsewhere ({@code gemm=auto}); {@code gemm=wgmma|mma} forces one.
 */
final class CudaBackend implements DeployBackend {

    /** The options {@link CudaProvider#create(Map)} accepts. */
    static Map<String, String> options(GemmKind kind) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("gemm", "auto (default: our kernel — wgmma on Hopper, else mma — or cuBLASLt, whichever is faster, timed once per "
                + "token-count bucket), wgmma (sm_90a cubin: TMA, fused rescale), mma (portable mma.sync PTX), or cublaslt (NVIDIA's "
                + "cuBLASLt, then our rescale)");
        if (kind == GemmKind.FP8) {
            m.put("accumulate", "fast (default: the FP8 tensor cores' own accumulator, ~1e-3 of Σ|a·b|) or promoted "
                    + "(each 128-wide K slice added into FP32 registers; slower; wgmma only)");
        }
        return m;
    }

    final CudaDevice gpu;
    final GemmKind kind;
    private final W8A8Gemm.Kernel kernel;
    private final boolean promoted;
    private final BackendCapabilities capabilities;
    private boolean closed;

    /** Refuses unknown options and values before anything native is loaded. */
    static void validate(GemmKind kind, Map<String, String> options) {
        for (String key : options.keySet()) {
            if (!options(kind).containsKey(key)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, kind.backendName + " has no option " + key + "; it takes "
                        + options(kind).keySet());
            }
        }
        String gemm = options.getOrDefault("gemm", "auto").toLowerCase(Locale.ROOT);
        String accumulate = options.getOrDefault("accumulate", "fast").toLowerCase(Locale.ROOT);
        if (!gemm.matches("auto|wgmma|mma|cublaslt")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, kind.backendName + " option gemm must be auto, wgmma, mma or cublaslt; got "
                    + gemm);
        }
        if (gemm.equals("cublaslt") && options.getOrDefault("accumulate", "fast").equalsIgnoreCase("promoted")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, kind.backendName + " accumulate=promoted is our wgmma kernel's; "
                    + "gemm=cublaslt uses cuBLASLt's fast accumulation");
        }
        if (!accumulate.matches("fast|promoted")) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, kind.backendName + " option accumulate must be fast or promoted; got "
                    + accumulate);
        }
    }

    CudaBackend(Path driver, GemmKind kind, Map<String, String> options) {
        this.kind = kind;
        validate(kind, options);
        String gemm = options.getOrDefault("gemm", "auto").toLowerCase(Locale.ROOT);
        String accumulate = options.getOrDefault("accumulate", "fast").toLowerCase(Locale.ROOT);
        gpu = new CudaDevice(driver);
        try {
            if (gpu.capability < kind.minCapability) {
                throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + " needs compute capability "
                        + kind.minCapability / 10 + "." + kind.minCapability % 10 + " or newer; " + gpu.name + " has " + gpu.capabilityText());
            }
            if (gemm.equals("wgmma") && !gpu.hopper()) {
                throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + " gemm=wgmma needs a compute capability 9.0 GPU "
                        + "(H100, H200), a driver with TMA and the sm_90a cubin; " + gpu.name + " has " + gpu.capabilityText());
            }
            promoted = accumulate.equals("promoted");
            W8A8Gemm.Kernel own = gpu.hopper() ? W8A8Gemm.Kernel.WGMMA : W8A8Gemm.Kernel.MMA;
            kernel = switch (gemm) {
                case "mma" -> W8A8Gemm.Kernel.MMA;
                case "wgmma" -> W8A8Gemm.Kernel.WGMMA;
                case "cublaslt" -> W8A8Gemm.Kernel.CUBLASLT;
                default -> promoted ? own : W8A8Gemm.Kernel.AUTO; // promoted accumulation is ours alone
            };
            if (kernel == W8A8Gemm.Kernel.CUBLASLT && gpu.cublasLt().isEmpty()) {
                throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, kind.backendName + " gemm=cublaslt: " + gpu.cublasLtMissing());
            }
            if (promoted && own != W8A8Gemm.Kernel.WGMMA) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, kind.backendName + " accumulate=promoted needs the wgmma kernels; "
                        + "the mma kernels already accumulate in FP32");
            }
            // load the kernels now, so that a broken module fails here and not in the first forward
            gpu.function(kind.ptx, kind.quantizePerToken);
        } catch (RuntimeException e) {
            gpu.close();
            throw e;
        }
        capabilities = kind.capabilities("cuda:0");
    }

    @Override
    public BackendCapabilities capabilities() {
        return capabilities;
    }

    @Override
    public PreparedLinear prepare(FrozenLinear layer) {
        capabilities.requireSupported(kind.backendName, layer);
        int out = Math.toIntExact(layer.weight().shape().get(0));
        int in = Math.toIntExact(layer.weight().shape().get(1));
        float[] scales = layer.weight().scale().toFloatArray();
        float[] perRow = new float[out];
        for (int o = 0; o < out; o++) {
            perRow[o] = scales.length == 1 ? scales[0] : scales[o];
        }
        float staticScale = layer.inputSpec().granularity() == org.fmsmo.api.quant.Granularity.TOKEN ? Float.NaN
                : layer.inputScale().toFloatArray()[0];
        float[] bias = layer.bias() == null ? null : layer.bias().toFloatArray();
        return new CudaLinear(new W8A8Gemm(gpu, kind, kernel, layer.weight().codes().toByteArray(), perRow, bias, out, in, staticScale,
                layer.inputSpec().bits(), promoted));
    }

    @Override
    public Map<String, Object> diagnostics() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", gpu.name);
        m.put("compute_capability", gpu.capabilityText());
        m.put("gemm", switch (kernel) {
            case WGMMA -> "wgmma (" + CudaDevice.HOPPER_CUBIN + ", TMA, fused rescale" + (promoted ? ", FP8 promoted accumulation" : "") + ")";
            case MMA -> "mma.sync (" + kind.ptx + ")";
            case CUBLASLT -> "cuBLASLt, then our rescale kernel";
            case AUTO -> "auto: " + (gpu.hopper() ? "wgmma" : "mma.sync") + " or cuBLASLt, the faster per token-count bucket";
        });
        m.put("cublaslt", gpu.cublasLt().map(CublasLt::describe).orElse("unavailable: " + gpu.cublasLtMissing()));
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
