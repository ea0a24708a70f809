package org.fmsmo.plugin.cpu;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.BackendCapabilities.Scheme;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.FrozenMatmul;
import org.fmsmo.api.deploy.PreparedMatmul;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantType;

/**
 * What the reference backend runs:
 * <ul>
 *   <li>{@code W8A8-int}: symmetric INT (≤ 8 bits) weights per tensor or channel × symmetric INT
 *       (≤ 8 bits) activations per token (dynamic) or per tensor (static), exact int32 accumulation;</li>
 *   <li>{@code W8A8-int-asymmetric-input}: the same weights × asymmetric INT activations with a
 *       zero point, per tensor (static) or per token (dynamic);</li>
 *   <li>{@code W8A8-fp8-e4m3}: e4m3 weights × e4m3 activations (per token or per tensor), products
 *       exact in FP32, FP32 accumulation (its mantissa optionally narrowed per chunk);</li>
 *   <li>{@code weight-only}: INT (any symmetry, tensor/channel/group) or FP8 weights, dequantized
 *       once and multiplied in float;</li>
 *   <li>attention matmuls ({@link QuantizedMatmul}): INT × INT with int32 accumulation, FP8 × FP8 with
 *       FP32 accumulation, and float × a quantized KV cache.</li>
 * </ul>
 */
final class CpuReferenceBackend implements DeployBackend {

    private static final Set<Granularity> TENSOR_OR_CHANNEL = EnumSet.of(Granularity.TENSOR, Granularity.CHANNEL);
    private static final Set<Granularity> WEIGHT_ALL = EnumSet.of(Granularity.TENSOR, Granularity.CHANNEL, Granularity.GROUP);

    static final Scheme W8A8 = new Scheme("W8A8-int", QuantType.INT, 8, TENSOR_OR_CHANNEL, false,
            QuantType.INT, EnumSet.of(Granularity.TOKEN, Granularity.TENSOR), false);

    /**
     * Asymmetric activations, static (PTQ's minmax ranges) or per token at run time ({@code minmax}
     * on TOKEN): the zero point becomes a correction through the weight row sums.
     */
    static final Scheme W8A8_ASYMMETRIC_INPUT = new Scheme("W8A8-int-asymmetric-input", QuantType.INT, 8, TENSOR_OR_CHANNEL, false,
            QuantType.INT, EnumSet.of(Granularity.TOKEN, Granularity.TENSOR), true);

    /** FP8 e4m3 weights per tensor or channel × e4m3 inputs per token or per tensor, FP32 accumulation. */
    static final Scheme W8A8_FP8 = new Scheme("W8A8-fp8-e4m3", QuantType.FP8_E4M3, 8, TENSOR_OR_CHANNEL, false,
            QuantType.FP8_E4M3, EnumSet.of(Granularity.TOKEN, Granularity.TENSOR), false);

    private static final BackendCapabilities CAPABILITIES = new BackendCapabilities("cpu", List.of(
            W8A8,
            W8A8_ASYMMETRIC_INPUT,
            W8A8_FP8,
            new Scheme("weight-only-int", QuantType.INT, 8, WEIGHT_ALL, true, null, Set.of(), false),
            new Scheme("weight-only-fp8-e4m3", QuantType.FP8_E4M3, 8, WEIGHT_ALL, false, null, Set.of(), false),
            new Scheme("weight-only-fp8-e5m2", QuantType.FP8_E5M2, 8, WEIGHT_ALL, false, null, Set.of(), false)));

    private final Accumulation accumulation;
    /** Set by {@code verify_accumulators=true}; null otherwise. */
    private final AccumulatorCheck check;

    CpuReferenceBackend(Accumulation accumulation, AccumulatorCheck check) {
        this.accumulation = accumulation;
        this.check = check;
    }

    @Override
    public java.util.Map<String, Object> diagnostics() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("int8_kernel", Int8Kernel.kernelName());
        m.put("accumulator", accumulation.toString());
        if (check != null) {
            m.put("accumulators_verified", check.summary());
        }
        return m;
    }

    @Override
    public BackendCapabilities capabilities() {
        return CAPABILITIES;
    }

    /** Int8Linear runs LLM.int8's float outlier channels beside its integer product. */
    @Override
    public boolean runsOutlierDecomposition() {
        return true;
    }

    @Override
    public PreparedLinear prepare(FrozenLinear layer) {
        CAPABILITIES.requireSupported("cpu-reference", layer);
        if (layer.inputSpec() == null) {
            return new DequantizedLinear(layer);
        }
        if (layer.inputSpec().type() == QuantType.FP8_E4M3) {
            return new Fp8Linear(layer, accumulation);
        }
        return new Int8Linear(layer, accumulation, check);
    }

    @Override
    public boolean runs(FrozenMatmul matmul) {
        return QuantizedMatmul.supports(matmul);
    }

    @Override
    public PreparedMatmul prepare(FrozenMatmul matmul) {
        return QuantizedMatmul.prepare(matmul, accumulation);
    }

    @Override
    public void close() {
        // no resources: prepared layers own their arrays
    }
}
