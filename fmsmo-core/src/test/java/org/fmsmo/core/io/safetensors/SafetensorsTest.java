package org.fmsmo.core.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir
    Path tmp;

    /** Values exactly representable in every float format, so every round trip must be exact. */
    private static final float[] EXACT = {0f, 1f, -2f, 0.5f, 448f, -0.015625f};

    @Test
    void everyDtypeRoundTripsExactly() throws IOException {
        long[] shape = {2, 3};
        List<TensorData> tensors = List.of(
                TensorData.ofFloats("f64", Dtype.F64, shape, EXACT),
                TensorData.ofFloats("f32", Dtype.F32, shape, new float[] {1.1f, -3.3e-8f, 7e30f, 0f, -0f, 3.1415927f}),
                TensorData.ofFloats("f16", Dtype.F16, shape, EXACT),
                TensorData.ofFloats("bf16", Dtype.BF16, shape, EXACT),
                TensorData.ofFloats("e4m3", Dtype.F8_E4M3, shape, EXACT),
                TensorData.ofFloats("e5m2", Dtype.F8_E5M2, shape, EXACT),
                TensorData.ofLongs("i64", Dtype.I64, shape, new long[] {Long.MIN_VALUE, -1, 0, 1, 2, Long.MAX_VALUE}),
                TensorData.ofLongs("i32", Dtype.I32, shape, new long[] {Integer.MIN_VALUE, -1, 0, 1, 2, Integer.MAX_VALUE}),
                TensorData.ofLongs("i16", Dtype.I16, shape, new long[] {-32768, -1, 0, 1, 2, 32767}),
                TensorData.ofLongs("i8", Dtype.I8, shape, new long[] {-128, -1, 0, 1, 2, 127}),
                TensorData.ofLongs("u8", Dtype.U8, shape, new long[] {0, 1, 2, 127, 128, 255}),
                TensorData.ofLongs("bool", Dtype.BOOL, shape, new long[] {0, 1, 1, 0, 0, 1}));
        Path file = tmp.resolve("all.safetensors");
        SafetensorsWriter.writeFile(file, tensors, Map.of("format", "pt"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(12, f.tensors().size());
            for (String n : List.of("f64", "f16", "bf16", "e4m3", "e5m2")) {
                assertArrayEquals(EXACT, f.floats(n), 0f, n);
            }
            assertArrayEquals(new float[] {1.1f, -3.3e-8f, 7e30f, 0f, -0f, 3.1415927f}, f.floats("f32"), 0f);
            assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 0, 1, 2, Long.MAX_VALUE}, f.longs("i64"));
            assertArrayEquals(new long[] {-32768, -1, 0, 1, 2, 32767}, f.longs("i16"));
            assertArrayEquals(new long[] {0, 1, 2, 127, 128, 255}, f.longs("u8"));
            assertArrayEquals(new long[] {2, 3}, f.info("bf16").shape());
            assertEquals(Dtype.F8_E5M2, f.info("e5m2").dtype());
        }
        // The header is padded to 8 bytes, so data offsets of 8-byte dtypes stay aligned.
        assertEquals(0, readHeaderLength(file) % 8);
    }

    @Test
    void narrowingRoundsToNearestEven() {
        // 1 + 2^-8 is the exact midpoint between two bf16 neighbours 1 and 1 + 2^-7: ties go to the even 1.
        assertEquals(1f, FloatConversions.bf16ToFloat(FloatConversions.floatToBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-6f, FloatConversions.bf16ToFloat(FloatConversions.floatToBf16(1f + 0x1p-7f + 0x1p-8f)), "odd neighbour: rounds up");
        assertEquals(1f + 0x1p-7f, FloatConversions.bf16ToFloat(FloatConversions.floatToBf16(1f + 0x1p-8f + 0x1p-20f)));
        assertTrue(Float.isNaN(FloatConversions.bf16ToFloat(FloatConversions.floatToBf16(Float.NaN))));
        assertEquals(1f, FloatConversions.f16ToFloat(FloatConversions.floatToF16(1f + 0x1p-11f)));
        assertEquals(448f, FloatConversions.f8ToFloat(Dtype.F8_E4M3, FloatConversions.floatToF8(Dtype.F8_E4M3, 1e6f)), "FP8 saturates");
    }

    /**
     * The bulk widening (one loop per dtype) against the element-wise definition, on every bit
     * pattern of each narrow format, compared as raw bits (NaN payloads and -0 included), plus
     * hand-checked values: bf16 0x3F80 and f16 0x3C00 are 1, f16 0x7C00 is +inf, E4M3 0x7E is 448.
     */
    @Test
    void bulkWideningEqualsElementWiseOnEveryBitPattern() {
        for (Dtype d : List.of(Dtype.BF16, Dtype.F16, Dtype.F8_E4M3, Dtype.F8_E5M2)) {
            int n = d.size() == 2 ? 1 << 16 : 1 << 8;
            java.lang.foreign.MemorySegment src = java.lang.foreign.MemorySegment.ofArray(new byte[n * d.size()]);
            for (int i = 0; i < n; i++) {
                if (d.size() == 2) {
                    src.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, (short) i);
                } else {
                    src.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
                }
            }
            float[] bulk = new float[n];
            FloatConversions.widen(d, src, bulk, n);
            for (int i = 0; i < n; i++) {
                float one = FloatConversions.read(d, src, i);
                assertEquals(Float.floatToRawIntBits(one), Float.floatToRawIntBits(bulk[i]), d + " pattern " + Integer.toHexString(i));
            }
        }
        float[] out = new float[1];
        FloatConversions.widen(Dtype.BF16, java.lang.foreign.MemorySegment.ofArray(new short[] {0x3F80}), out, 1);
        assertEquals(1f, out[0]);
        FloatConversions.widen(Dtype.F16, java.lang.foreign.MemorySegment.ofArray(new short[] {0x3C00}), out, 1);
        assertEquals(1f, out[0]);
        FloatConversions.widen(Dtype.F16, java.lang.foreign.MemorySegment.ofArray(new short[] {0x7C00}), out, 1);
        assertEquals(Float.POSITIVE_INFINITY, out[0]);
        FloatConversions.widen(Dtype.F8_E4M3, java.lang.foreign.MemorySegment.ofArray(new byte[] {0x7E}), out, 1);
        assertEquals(448f, out[0]);
        FloatConversions.widen(Dtype.F64, java.lang.foreign.MemorySegment.ofArray(new double[] {0.1}), out, 1);
        assertEquals(0.1f, out[0]);
    }

    /**
     * The bulk narrowing (one loop per dtype) against the element-wise conversions on random bit
     * patterns (every exponent, NaNs, infinities, subnormals), compared as raw bits, and on
     * hand-checked roundings: 1 + 2^-8 is a BF16 tie that goes to even (0x3F80), 1 + 3·2^-8 goes
     * up (0x3F82), 65520 overflows F16 to +inf (0x7C00), E4M3 saturates 500 to 448 (0x7E).
     */
    @Test
    void bulkNarrowingEqualsElementWise() {
        int n = 1 << 18;
        float[] values = new float[n];
        java.util.Random r = new java.util.Random(17);
        for (int i = 0; i < n; i++) {
            values[i] = Float.intBitsToFloat(r.nextInt());
        }
        values[0] = Float.NaN;
        values[1] = Float.NEGATIVE_INFINITY;
        values[2] = -0f;
        values[3] = Float.MIN_VALUE;
        for (Dtype d : List.of(Dtype.F32, Dtype.F64, Dtype.BF16, Dtype.F16, Dtype.F8_E4M3, Dtype.F8_E5M2)) {
            java.lang.foreign.MemorySegment out = java.lang.foreign.MemorySegment.ofArray(new byte[n * d.size()]);
            FloatConversions.narrow(d, java.lang.foreign.MemorySegment.ofArray(values), out, n);
            ByteBuffer b = out.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                long expected = switch (d) {
                    case F32 -> Float.floatToRawIntBits(values[i]);
                    case F64 -> Double.doubleToRawLongBits(values[i]);
                    case BF16 -> FloatConversions.floatToBf16(values[i]);
                    case F16 -> FloatConversions.floatToF16(values[i]);
                    default -> FloatConversions.floatToF8(d, values[i]);
                };
                long found = switch (d.size()) {
                    case 8 -> b.getLong(8 * i);
                    case 4 -> b.getInt(4 * i);
                    case 2 -> b.getShort(2 * i);
                    default -> b.get(i);
                };
                assertEquals(expected, found, d + " value " + Integer.toHexString(Float.floatToRawIntBits(values[i])));
            }
        }
        assertEquals(0x3F80, narrowed(Dtype.BF16, 1 + 0x1p-8f));
        assertEquals(0x3F82, narrowed(Dtype.BF16, 1 + 3 * 0x1p-8f));
        assertEquals(0x7C00, narrowed(Dtype.F16, 65520f));
        assertEquals(0x7E, narrowed(Dtype.F8_E4M3, 500f));
    }

    private static int narrowed(Dtype d, float v) {
        byte[] out = new byte[d.size()];
        FloatConversions.narrow(d, java.lang.foreign.MemorySegment.ofArray(new float[] {v}), java.lang.foreign.MemorySegment.ofArray(out), 1);
        return d.size() == 2 ? (out[0] & 0xFF) | (out[1] & 0xFF) << 8 : out[0] & 0xFF;
    }

    @Test
    void shardedFoldersRoundTripAndAreWrittenAtomically() throws IOException {
        Path config = Files.writeString(tmp.resolve("config.json"), "{}");
        List<TensorData> tensors = List.of(
                TensorData.ofFloats("a", Dtype.F32, new long[] {4}, new float[] {1, 2, 3, 4}),
                TensorData.ofFloats("b", Dtype.BF16, new long[] {4}, new float[] {5, 6, 7, 8}),
                TensorData.ofFloats("c", Dtype.F32, new long[] {2}, new float[] {9, 10}));
        Path out = SafetensorsWriter.writeModel(tmp.resolve("model"), tensors, Map.of(), 20, Map.of("config.json", config));
        try (var files = Files.list(tmp)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".model.tmp")), "no temporary folder left");
        }
        assertTrue(Files.isRegularFile(out.resolve("model-00001-of-00002.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
        try (SafetensorsModel m = SafetensorsModel.open(out)) {
            assertEquals(List.of("a", "b", "c"), List.copyOf(m.names()));
            assertArrayEquals(new float[] {5, 6, 7, 8}, m.floats("b"), 0f);
            assertArrayEquals(new float[] {9, 10}, m.floats("c"), 0f);
        }
        FmsmoException exists = assertThrows(FmsmoException.class,
                () -> SafetensorsWriter.writeModel(out, tensors, Map.of(), 1 << 20, Map.of()));
        assertTrue(exists.getMessage().contains("already exists"));
    }

    @Test
    void aMissingShardIsNamed() throws IOException {
        List<TensorData> tensors = List.of(TensorData.ofFloats("a", Dtype.F32, new long[] {4}, new float[4]),
                TensorData.ofFloats("b", Dtype.F32, new long[] {4}, new float[4]));
        Path out = SafetensorsWriter.writeModel(tmp.resolve("m"), tensors, Map.of(), 16, Map.of());
        Files.delete(out.resolve("model-00002-of-00002.safetensors"));
        FmsmoException e = assertThrows(FmsmoException.class, () -> SafetensorsModel.open(out));
        assertEquals(ErrorCode.CORRUPT_INPUT, e.code());
        assertTrue(e.getMessage().contains("model-00002-of-00002.safetensors") && e.getMessage().contains("missing"), e.getMessage());
    }

    /** A 2.5 GiB sparse tensor followed by a small one: offsets beyond 2^31 are read through the mapping. */
    @Test
    void filesOverTwoGibibytes() throws IOException {
        long big = 5L << 29; // 2.5 GiB of U8
        Path file = tmp.resolve("big.safetensors");
        TensorData sparse = new TensorData("big", Dtype.U8, new long[] {big}, ch -> ch.position(ch.position() + big));
        SafetensorsWriter.writeFile(file, List.of(sparse, TensorData.ofFloats("tail", Dtype.F32, new long[] {3}, new float[] {1.5f, -2f, 3f})), Map.of());
        assertTrue(Files.size(file) > big);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f, 3f}, f.floats("tail"), 0f);
            assertEquals(big, f.bytes("big").byteSize());
            assertEquals(0, f.bytes("big").get(java.lang.foreign.ValueLayout.JAVA_BYTE, big - 1));
            FmsmoException e = assertThrows(FmsmoException.class, () -> f.longs("big"));
            assertTrue(e.getMessage().contains("do not fit one Java array"), e.getMessage());
        }
    }

    // ---- bad input: each a clear error naming the file and the tensor -------------------------

    private Path raw(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = tmp.resolve("bad-" + System.nanoTime() + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static FmsmoException corrupt(Path p) {
        FmsmoException e = assertThrows(FmsmoException.class, () -> SafetensorsFile.open(p).close());
        assertEquals(ErrorCode.CORRUPT_INPUT, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        return e;
    }

    @Test
    void truncatedFiles() throws IOException {
        Path tiny = Files.write(tmp.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        assertTrue(corrupt(tiny).getMessage().contains("8-byte header length"));
        Path good = tmp.resolve("good.safetensors");
        SafetensorsWriter.writeFile(good, List.of(TensorData.ofFloats("w", Dtype.F32, new long[] {4}, new float[4])), Map.of());
        byte[] all = Files.readAllBytes(good);
        Path cut = Files.write(tmp.resolve("cut.safetensors"), java.util.Arrays.copyOf(all, all.length - 5));
        String msg = corrupt(cut).getMessage();
        assertTrue(msg.contains("tensor 'w'") && msg.contains("truncated"), msg);
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        Path p = tmp.resolve("hl.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(new byte[] {(byte) 0xFF, (byte) 0xFF, 0, 0, 0, 0, 0, 0, '{', '}'});
        }
        assertTrue(corrupt(p).getMessage().contains("header length 65535 is impossible"));
    }

    @Test
    void overlappingOffsets() throws IOException {
        String msg = corrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)).getMessage();
        assertTrue(msg.contains("'a'") && msg.contains("'b'") && msg.contains("overlap"), msg);
    }

    @Test
    void unknownDtypeShapeMismatchAndBadJson() throws IOException {
        String unknown = corrupt(raw("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1)).getMessage();
        assertTrue(unknown.contains("tensor 'a'") && unknown.contains("unknown dtype 'F4'") && unknown.contains("BF16"), unknown);
        String mismatch = corrupt(raw("{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4)).getMessage();
        assertTrue(mismatch.contains("tensor 'a'") && mismatch.contains("needs 6 bytes but data_offsets give 4"), mismatch);
        assertTrue(corrupt(raw("{\"a\": [1, 2", 0)).getMessage().contains("not valid JSON"));
        assertTrue(corrupt(raw("[1, 2]", 0)).getMessage().contains("JSON object"));
    }

    /** The format forbids a name given twice; a lenient reader let the last one win. Offsets are integers, not strings. */
    @Test
    void duplicateNamesAndNonIntegerOffsets() throws IOException {
        String twice = corrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).getMessage();
        assertTrue(twice.contains("not valid JSON") && twice.contains("Duplicate field 'a'"), twice);
        String strings = corrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4)).getMessage();
        assertTrue(strings.contains("tensor 'a'") && strings.contains("data_offsets must be two integers"), strings);

        Path dir = Files.createDirectories(tmp.resolve("dup-index"));
        SafetensorsWriter.writeFile(dir.resolve("s1.safetensors"), List.of(TensorData.ofFloats("w", Dtype.F32, new long[] {1}, new float[1])), Map.of());
        Files.writeString(dir.resolve(SafetensorsWriter.INDEX), "{\"weight_map\": {\"w\": \"s1.safetensors\", \"w\": \"s1.safetensors\"}}");
        FmsmoException e = assertThrows(FmsmoException.class, () -> SafetensorsModel.open(dir).close());
        assertTrue(e.getMessage().contains("Duplicate field 'w'"), e.getMessage());
    }

    /** The shared tiny-llama fixture: its README states 988,288 parameters, all F32. */
    @Test
    void readsTheTinyLlamaFixture() {
        Path dir = org.fmsmo.core.SharedFixtures.require("tiny-llama");
        try (SafetensorsModel m = SafetensorsModel.open(dir)) {
            long params = 0;
            for (String n : m.names()) {
                assertEquals(Dtype.F32, m.info(n).dtype(), n);
                params += m.info(n).elements();
            }
            assertEquals(988_288, params);
            assertArrayEquals(new long[] {1024, 128}, m.info("model.embed_tokens.weight").shape());
        }
    }

    private static long readHeaderLength(Path file) throws IOException {
        byte[] b = java.util.Arrays.copyOf(Files.readAllBytes(file), 8);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
