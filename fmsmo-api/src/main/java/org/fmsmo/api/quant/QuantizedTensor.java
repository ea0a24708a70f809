package org.fmsmo.api.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.Stable;

/**
 * The frozen form of a quantized tensor: codes plus scales (and zero points), in a layout fixed by
 * its {@link QuantSpec}. Dequantizing gives {@code x̂ = (q − zp)·s} for INT and {@code x̂ = fp8(q)·s}
 * for FP8 — bit for bit the value the quantizer's simulation produced.
 *
 * <p>Layout:
 * <ul>
 *   <li>{@code codes}: same shape as the original tensor; {@link DataType#INT8} for symmetric INT
 *       (codes in {@code [−2^(b−1), 2^(b−1)−1]}), {@link DataType#UINT8} for asymmetric INT (codes in
 *       {@code [0, 2^b−1]}) and for FP8 (the raw FP8 bytes).</li>
 *   <li>{@code scale}: {@link DataType#FLOAT32}; shape {@code [1]} for TENSOR, {@code [rows, 1]} for
 *       CHANNEL and TOKEN, {@code [rows, ceil(cols / groupSize)]} for GROUP. CHANNEL, GROUP and TOKEN
 *       need 2-D codes {@code [rows, cols]}.</li>
 *   <li>{@code zeroPoint}: {@link DataType#INT32}, same shape as {@code scale}; present exactly
 *       when the spec is asymmetric.</li>
 *   <li>{@code groupIndex} (GROUP only, optional): {@link DataType#INT32} {@code [cols]}, the group
 *       of each input column when groups are not contiguous (GPTQ's act-order {@code g_idx});
 *       absent, column {@code j} is in group {@code j / groupSize}.</li>
 * </ul>
 * The arrays are not owned by this object: they live in their creator's {@code NDManager}.
 * Immutable; safe to read from several threads when the arrays are.
 */
@Stable(since = "1.0")
public final class QuantizedTensor {

    private final QuantSpec spec;
    private final NDArray codes;
    private final NDArray scale;
    private final NDArray zeroPoint;
    private final NDArray groupIndex;

    /**
     * @param spec      the spec the codes follow; not null
     * @param codes     see the class comment; not null
     * @param scale     see the class comment; not null
     * @param zeroPoint null exactly when {@code spec.symmetric()}
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when a dtype or shape does not match the layout
     */
    public QuantizedTensor(QuantSpec spec, NDArray codes, NDArray scale, NDArray zeroPoint) {
        this(spec, codes, scale, zeroPoint, null);
    }

    /**
     * With a group index (see the class comment).
     *
     * @param groupIndex null for contiguous groups; else INT32 {@code [cols]} with values below the number of groups
     */
    public QuantizedTensor(QuantSpec spec, NDArray codes, NDArray scale, NDArray zeroPoint, NDArray groupIndex) {
        this.groupIndex = groupIndex;
        this.spec = Objects.requireNonNull(spec, "spec");
        this.codes = Objects.requireNonNull(codes, "codes");
        this.scale = Objects.requireNonNull(scale, "scale");
        this.zeroPoint = zeroPoint;
        DataType expectedCodes = spec.type() == QuantType.INT && spec.symmetric() ? DataType.INT8 : DataType.UINT8;
        check(codes.getDataType() == expectedCodes, "codes dtype " + expectedCodes, codes.getDataType());
        check(scale.getDataType() == DataType.FLOAT32, "scale dtype FLOAT32", scale.getDataType());
        check(spec.symmetric() == (zeroPoint == null), spec.symmetric() ? "no zero point (symmetric)" : "a zero point (asymmetric)",
                zeroPoint == null ? "none" : zeroPoint.getShape());
        Shape expectedScale = scaleShape(spec, codes.getShape());
        check(scale.getShape().equals(expectedScale), "scale shape " + expectedScale, scale.getShape());
        if (zeroPoint != null) {
            check(zeroPoint.getDataType() == DataType.INT32, "zero point dtype INT32", zeroPoint.getDataType());
            check(zeroPoint.getShape().equals(expectedScale), "zero point shape " + expectedScale, zeroPoint.getShape());
        }
        if (groupIndex != null) {
            check(spec.granularity() == Granularity.GROUP, "no group index (granularity " + spec.granularity() + ")", "one");
            check(groupIndex.getDataType() == DataType.INT32 && groupIndex.getShape().equals(new Shape(codes.getShape().get(1))),
                    "group index INT32 [" + codes.getShape().get(1) + "]", groupIndex.getDataType() + " " + groupIndex.getShape());
            for (int g : groupIndex.toIntArray()) {
                check(g >= 0 && g < expectedScale.get(1), "group indices in [0, " + expectedScale.get(1) + ")", g);
            }
        }
    }

    /**
     * The shape {@code scale} and {@code zeroPoint} have for a tensor of {@code shape} under {@code spec}.
     *
     * @throws FmsmoException {@link ErrorCode#UNSUPPORTED_SPEC} when the granularity needs a 2-D tensor and {@code shape} is not
     */
    public static Shape scaleShape(QuantSpec spec, Shape shape) {
        if (spec.granularity() == Granularity.TENSOR) {
            return new Shape(1);
        }
        if (shape.dimension() != 2) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, spec.granularity()
                    + " granularity needs a 2-D [rows, cols] tensor, found shape " + shape);
        }
        long rows = shape.get(0);
        long cols = shape.get(1);
        return spec.granularity() == Granularity.GROUP
                ? new Shape(rows, (cols + spec.groupSize() - 1) / spec.groupSize())
                : new Shape(rows, 1);
    }

    /**
     * The per-element form of a per-block array ({@code scale} or {@code zeroPoint} layout) for a
     * tensor of {@code shape}: GROUP blocks are repeated across their columns and the ragged end is
     * cut; other granularities already broadcast and are returned as they are.
     *
     * @param perBlock shaped as {@link #scaleShape} says
     * @return a broadcastable array in {@code perBlock}'s manager (or {@code perBlock} itself)
     */
    public static NDArray broadcast(NDArray perBlock, QuantSpec spec, Shape shape) {
        if (spec.granularity() != Granularity.GROUP) {
            return perBlock;
        }
        // A group wider than the row is one group per row: repeat it across the row, not group_size times.
        return perBlock.repeat(1, Math.min(spec.groupSize(), shape.get(1))).get(":, :" + shape.get(1));
    }

    /** The spec the codes follow. */
    public QuantSpec spec() {
        return spec;
    }

    /** The integer codes or FP8 bytes; shape of the original tensor. */
    public NDArray codes() {
        return codes;
    }

    /** The dequantization scales (multiply codes by them). */
    public NDArray scale() {
        return scale;
    }

    /** The zero points, present exactly for asymmetric specs. */
    public Optional<NDArray> zeroPoint() {
        return Optional.ofNullable(zeroPoint);
    }

    /** The group of each input column, when groups are not contiguous (act-order). */
    public Optional<NDArray> groupIndex() {
        return Optional.ofNullable(groupIndex);
    }

    /** The per-element form of a per-block array for this tensor, following {@link #groupIndex()} when present. */
    private NDArray perElement(NDArray perBlock) {
        if (groupIndex == null) {
            return broadcast(perBlock, spec, codes.getShape());
        }
        int rows = Math.toIntExact(codes.getShape().get(0));
        int cols = Math.toIntExact(codes.getShape().get(1));
        int groups = Math.toIntExact(perBlock.getShape().get(1));
        float[] blocks = perBlock.toType(DataType.FLOAT32, false).toFloatArray();
        int[] g = groupIndex.toIntArray();
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = blocks[r * groups + g[c]];
            }
        }
        return perBlock.getManager().create(out, codes.getShape());
    }

    /** The shape of the original tensor. */
    public Shape shape() {
        return codes.getShape();
    }

    /**
     * The dequantized tensor, FLOAT32, in the codes' manager; the caller owns it.
     */
    public NDArray dequantize() {
        // The per-element scales and zero points are temporaries as large as the weight: free them
        // here rather than with the owner's manager, which may hold a whole decoder block for long.
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray values;
            if (spec.type().isFloat()) {
                Fp8Format f = spec.type().fp8Format().orElseThrow();
                byte[] raw = codes.toByteArray();
                float[] decoded = new float[raw.length];
                for (int i = 0; i < raw.length; i++) {
                    decoded[i] = f.decode(raw[i]);
                }
                values = codes.getManager().create(decoded, codes.getShape());
            } else if (contiguousGroups()) {
                // [rows, groups, size] against [rows, groups, 1]: the same products as per-element
                // scales, without the weight-sized copies of the scales and zero points.
                Shape blocks = new Shape(codes.getShape().get(0), scale.getShape().get(1), spec.groupSize());
                Shape perBlock = new Shape(blocks.get(0), blocks.get(1), 1);
                values = codes.toType(DataType.FLOAT32, false).reshape(blocks);
                if (zeroPoint != null) {
                    values = values.subi(zeroPoint.toType(DataType.FLOAT32, false).reshape(perBlock));
                }
                return keep(values.muli(scale.reshape(perBlock)).reshape(codes.getShape()));
            } else {
                values = codes.toType(DataType.FLOAT32, false);
                if (zeroPoint != null) {
                    values = values.subi(perElement(zeroPoint.toType(DataType.FLOAT32, false)));
                }
            }
            values = values.muli(perElement(scale));
            NDScope.unregister(values);
            return values;
        }
    }

    /** Groups of {@code groupSize} consecutive columns, as many as fit the row exactly. */
    private boolean contiguousGroups() {
        return spec.granularity() == Granularity.GROUP && groupIndex == null && codes.getShape().get(1) % spec.groupSize() == 0;
    }

    /** {@code values}, taken out of the current scope for the caller. */
    private static NDArray keep(NDArray values) {
        NDScope.unregister(values);
        return values;
    }

    private static void check(boolean ok, String expected, Object found) {
        if (!ok) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                    "QuantizedTensor: expected " + expected + ", found " + found);
        }
    }

    @Override
    public String toString() {
        return "QuantizedTensor[" + spec + ", shape=" + codes.getShape() + "]";
    }
}
