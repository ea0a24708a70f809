package org.fmsmo.core.io.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A cursor over protobuf wire-format bytes: just enough of the encoding (varints, fixed32/64 and
 * length-delimited fields) to walk ONNX messages without generated classes. Works on a memory
 * segment so that a model file of any size is read in place.
 */
final class ProtoReader {

    /** Wire types of the protobuf encoding. */
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final MemorySegment data;
    private final String where;
    private long pos;
    private int tag;

    /**
     * @param data  the message's bytes (and nothing else)
     * @param where names the file and message in error messages
     */
    ProtoReader(MemorySegment data, String where) {
        this.data = data;
        this.where = where;
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (pos >= data.byteSize()) {
            return false;
        }
        long t = varint();
        if ((t >>> 3) == 0 || (t >>> 3) > Integer.MAX_VALUE) {
            throw corrupt("invalid field number " + (t >>> 3));
        }
        tag = (int) t;
        return true;
    }

    int field() {
        return tag >>> 3;
    }

    int wireType() {
        return tag & 7;
    }

    long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= data.byteSize()) {
                throw corrupt("varint runs past the end");
            }
            byte b = data.get(ValueLayout.JAVA_BYTE, pos++);
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return result;
            }
        }
        throw corrupt("varint longer than 10 bytes");
    }

    /** The current length-delimited field's bytes (a view, not a copy). */
    MemorySegment bytes() {
        expect(LENGTH_DELIMITED);
        long len = varint();
        if (len < 0 || len > data.byteSize() - pos) {
            throw corrupt("field " + field() + " claims " + len + " bytes but only " + (data.byteSize() - pos) + " remain (truncated file?)");
        }
        MemorySegment s = data.asSlice(pos, len);
        pos += len;
        return s;
    }

    String string() {
        return new String(bytes().toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** A nested message, as a reader of its own. */
    ProtoReader message(String name) {
        return new ProtoReader(bytes(), where + " > " + name);
    }

    float fixed32Float() {
        expect(FIXED32);
        ensure(4);
        float f = data.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), pos);
        pos += 4;
        return f;
    }

    /** Skips the current field whatever its type. */
    void skip() {
        switch (wireType()) {
            case VARINT -> varint();
            case FIXED64 -> advance(8);
            case LENGTH_DELIMITED -> bytes();
            case FIXED32 -> advance(4);
            default -> throw corrupt("unsupported wire type " + wireType() + " for field " + field());
        }
    }

    /** Reads a repeated int64 field in either its packed or its one-per-tag encoding. */
    void int64s(java.util.function.LongConsumer sink) {
        if (wireType() == VARINT) {
            sink.accept(varint());
        } else {
            ProtoReader packed = new ProtoReader(bytes(), where);
            while (packed.pos < packed.data.byteSize()) {
                sink.accept(packed.varint());
            }
        }
    }

    String where() {
        return where;
    }

    private void expect(int wireType) {
        if (wireType() != wireType) {
            throw corrupt("field " + field() + " has wire type " + wireType() + ", expected " + wireType);
        }
    }

    private void advance(long n) {
        ensure(n);
        pos += n;
    }

    private void ensure(long n) {
        if (pos + n > data.byteSize()) {
            throw corrupt("field " + field() + " runs past the end (truncated file?)");
        }
    }

    OnnxFormatException corrupt(String what) {
        return new OnnxFormatException(where + " at byte " + pos + ": " + what);
    }

    /** Carries a message up to {@link OnnxModel}, which adds the error code. */
    static final class OnnxFormatException extends RuntimeException {
        OnnxFormatException(String message) {
            super(message);
        }
    }
}
