package org.fmsmo.plugin.gguf;

import java.util.List;

/**
 * A GGUF metadata value with its {@code gguf_metadata_value_type}: the type decides how it is
 * stored, so a {@code uint32} and an {@code int32} of the same number are different values.
 * Arrays hold one element type.
 */
record GgufValue(int type, Object value, int elementType) {

    static final int UINT8 = 0;
    static final int INT8 = 1;
    static final int UINT16 = 2;
    static final int INT16 = 3;
    static final int UINT32 = 4;
    static final int INT32 = 5;
    static final int FLOAT32 = 6;
    static final int BOOL = 7;
    static final int STRING = 8;
    static final int ARRAY = 9;
    static final int UINT64 = 10;
    static final int INT64 = 11;
    static final int FLOAT64 = 12;

    static GgufValue u32(long v) {
        return new GgufValue(UINT32, v, -1);
    }

    static GgufValue i32(long v) {
        return new GgufValue(INT32, v, -1);
    }

    static GgufValue f32(double v) {
        return new GgufValue(FLOAT32, v, -1);
    }

    static GgufValue bool(boolean v) {
        return new GgufValue(BOOL, v, -1);
    }

    static GgufValue string(String v) {
        return new GgufValue(STRING, v, -1);
    }

    /** An array of {@code elementType} values: strings, or numbers as {@code Long}/{@code Double}. */
    static GgufValue array(int elementType, List<?> values) {
        return new GgufValue(ARRAY, List.copyOf(values), elementType);
    }

    /** The number, for the integer types. */
    long asLong() {
        return ((Number) value).longValue();
    }

    @SuppressWarnings("unchecked")
    List<Object> asList() {
        return (List<Object>) value;
    }
}
