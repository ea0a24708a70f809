package org.fmsmo.kernels.cuda;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.BackendCapabilities.Scheme;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantType;

/** The two GPU backends: what each runs, which PTX and kernels it uses, and the GPU it needs. */
enum GemmKind {

    INT8("cuda-int8", QuantType.INT, "int8_gemm.ptx", "quantize_per_token", "quantize_static", "gemm_s8s8s32", "rescale", 80,
            "W8A8 int8: on Hopper a wgmma/TMA int8 GEMM with the rescale fused into its epilogue (sm_90a cubin); "
                    + "elsewhere tensor-core WMMA/IMMA (PTX, sm_80+)"),
    FP8("cuda-fp8", QuantType.FP8_E4M3, "fp8_gemm.ptx", "quantize_fp8_per_token", "quantize_fp8_static", "gemm_e4m3_f32", "rescale_f32", 89,
            "W8A8 FP8 e4m3: on Hopper a wgmma/TMA FP8 GEMM with the rescale fused into its epilogue (sm_90a cubin); "
                    + "on sm_89 mma.sync m16n8k32 with FP32 accumulation (PTX)");

    final String backendName;
    final QuantType type;
    final String ptx;
    final String quantizePerToken;
    final String quantizeStatic;
    final String gemm;
    final String rescale;
    /** Compute capability × 10 the kernels need (80 = sm_80). */
    final int minCapability;
    final String description;

    GemmKind(String backendName, QuantType type, String ptx, String quantizePerToken, String quantizeStatic, String gemm, String rescale,
             int minCapability, String description) {
        this.backendName = backendName;
        this.type = type;
        this.ptx = ptx;
        this.quantizePerToken = quantizePerToken;
        this.quantizeStatic = quantizeStatic;
        this.gemm = gemm;
        this.rescale = rescale;
        this.minCapability = minCapability;
        this.description = description;
    }

    /** Symmetric 8-bit weights per tensor or channel × symmetric 8-bit inputs per token (dynamic) or per tensor (static). */
    BackendCapabilities capabilities(String device) {
        Set<Granularity> weights = EnumSet.of(Granularity.TENSOR, Granularity.CHANNEL);
        Set<Granularity> inputs = EnumSet.of(Granularity.TOKEN, Granularity.TENSOR);
        return new BackendCapabilities(device, List.of(new Scheme("W8A8-" + (this == INT8 ? "int" : "fp8-e4m3"), type, 8, weights, false,
                type, inputs, false)));
    }
}
