package org.fmsmo.core.io.onnx;

import java.lang.foreign.MemorySegment;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.TensorInfo;

/**
 * One constant tensor of an ONNX graph. Its values sit either in {@code raw_data} (little-endian
 * bytes, a view into the mapped file) or in a typed field ({@code float_data}, {@code int64_data} …),
 * as the exporter chose; {@link #floats()} reads both.
 */
public final class OnnxTensor {

    /** ONNX {@code TensorProto.DataType} codes this importer reads. */
    static final int FLOAT = 1;
    static final int INT32 = 6;
    static final int INT64 = 7;
    static final int FLOAT16 = 10;
    static final int DOUBLE = 11;
    static final int BFLOAT16 = 16;

    private final String name;
    private final int dataType;
    private final long[] shape;
    private final MemorySegment raw;
    private final float[] floatData;
    private final long[] intData;
    private final String where;

    OnnxTensor(String name, int dataType, long[] shape, MemorySegment raw, float[] floatData, long[] intData, String where) {
        this.name = name;
        this.dataType = dataType;
        this.shape = shape;
        this.raw = raw;
        this.floatData = floatData;
        this.intData = intData;
        this.where = where;
    }

    OnnxTensor renamed(String newName) {
        return new OnnxTensor(newName, dataType, shape, raw, floatData, intData, where);
    }

    public String name() {
        return name;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** The ONNX data type code (1 float, 10 float16, 7 int64 …). */
    public int dataType() {
        return dataType;
    }

    /**
     * The values as F32, whichever field holds them.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} when the stored count does not match the shape,
     *         {@link ErrorCode#UNSUPPORTED_SPEC} for non-float types
     */
    public float[] floats() {
        long n = TensorInfo.elements(shape);
        float[] out;
        if (raw != null) {
            Dtype dtype = switch (dataType) {
                case FLOAT -> Dtype.F32;
                case FLOAT16 -> Dtype.F16;
                case BFLOAT16 -> Dtype.BF16;
                case DOUBLE -> Dtype.F64;
                default -> throw notFloat();
            };
            if (raw.byteSize() != n * dtype.size()) {
                throw mismatch(raw.byteSize() + " raw bytes", n * dtype.size() + " bytes");
            }
            out = new float[(int) n];
            FloatConversions.widen(dtype, raw, out, (int) n);
        } else if (dataType == FLOAT && floatData != null) {
            out = floatData.clone();
        } else if ((dataType == FLOAT16 || dataType == BFLOAT16) && intData != null) {
            // float16 values travel in int32_data, one per element, in the low 16 bits.
            out = new float[intData.length];
            for (int i = 0; i < out.length; i++) {
                short bits = (short) intData[i];
                out[i] = dataType == FLOAT16 ? FloatConversions.f16ToFloat(bits) : FloatConversions.bf16ToFloat(bits);
            }
        } else if (dataType == FLOAT || dataType == FLOAT16 || dataType == BFLOAT16 || dataType == DOUBLE) {
            out = new float[0];
        } else {
            throw notFloat();
        }
        if (out.length != n) {
            throw mismatch(out.length + " values", n + " values");
        }
        return out;
    }

    private FmsmoException notFloat() {
        return new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, where + ": tensor '" + name + "' has ONNX data type " + dataType
                + "; expected a float type (1 float, 10 float16, 11 double, 16 bfloat16)");
    }

    private FmsmoException mismatch(String found, String expected) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": tensor '" + name + "' of shape "
                + java.util.Arrays.toString(shape) + " holds " + found + ", expected " + expected);
    }
}
