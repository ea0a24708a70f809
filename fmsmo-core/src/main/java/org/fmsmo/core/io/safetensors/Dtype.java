package org.fmsmo.core.io.safetensors;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/** The element types of the safetensors format, with their header names and sizes in bytes. */
public enum Dtype {
    /** IEEE double. */
    F64(8),
    /** IEEE single. */
    F32(4),
    /** IEEE half. */
    F16(2),
    /** bfloat16: the upper half of an IEEE single. */
    BF16(2),
    /** FP8 e4m3fn. */
    F8_E4M3(1),
    /** FP8 e5m2. */
    F8_E5M2(1),
    /** 64-bit signed integer. */
    I64(8),
    /** 32-bit signed integer. */
    I32(4),
    /** 16-bit signed integer. */
    I16(2),
    /** 8-bit signed integer. */
    I8(1),
    /** 8-bit unsigned integer. */
    U8(1),
    /** One byte, 0 or 1. */
    BOOL(1);

    private final int size;

    Dtype(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether elements are floating-point numbers. */
    public boolean isFloat() {
        return this == F64 || this == F32 || this == F16 || this == BF16 || this == F8_E4M3 || this == F8_E5M2;
    }

    /**
     * The dtype called {@code name} in a header.
     *
     * @param where file and tensor, for the message
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} listing the known names
     */
    public static Dtype parse(String name, String where) {
        for (Dtype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": unknown dtype '" + name + "'; expected one of "
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")));
    }
}
