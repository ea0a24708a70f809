package org.fmsmo.core.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.FloatConversions;
import org.fmsmo.core.io.safetensors.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeMemoryTest {

    @TempDir
    Path tmp;

    /** Values written once into the engine's memory come back as they were, and the array owns them (not the Java array). */
    @Test
    void engineArraysHoldTheValuesWrittenInPlace() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] values = {1.5f, -0f, Float.NaN, 3e-39f, Float.MAX_VALUE, -2f};
            NDArray a = NativeMemory.engineFloats(m, values, new Shape(2, 3));
            assertEquals(new Shape(2, 3), a.getShape());
            assertEquals(DataType.FLOAT32, a.getDataType());
            float[] back = a.toFloatArray();
            for (int i = 0; i < values.length; i++) {
                assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back[i]), "element " + i);
            }
            values[0] = 7f;
            assertEquals(1.5f, a.toFloatArray()[0], "the engine array is a copy");
            assertArrayEquals(new float[] {2f, 0.5f}, a.add(0.5f).get(0).get("0:2").toFloatArray(), 0f);
        }
    }

    /**
     * Pieces that do not divide the array (35 values in pieces of 8) are filled and read in order,
     * each at its own offset, and what is written through them is the array's (read back by the engine).
     */
    @Test
    void piecesAreConsecutiveViewsOfTheArray() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            List<Long> firsts = new ArrayList<>();
            NDArray a = NativeMemory.engineFloats(m, new Shape(5, 7), (dst, first) -> {
                firsts.add(first);
                for (long i = 0; i < dst.byteSize() / 4; i++) {
                    dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, first + i);
                }
            }, 8);
            assertEquals(List.of(0L, 8L, 16L, 24L, 32L), firsts);
            float[] expected = new float[35];
            for (int i = 0; i < 35; i++) {
                expected[i] = i;
            }
            assertArrayEquals(expected, a.toFloatArray(), 0f);
            float[] read = new float[35];
            NativeMemory.read(a, 8, (src, first) -> MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, 0, read, (int) first, (int) (src.byteSize() / 4)));
            assertArrayEquals(expected, read, 0f);
            assertArrayEquals(expected, NativeMemory.toFloats(a, 8), 0f);
            float[] copied = {5, 4, 3, 2, 1, 0};
            assertArrayEquals(copied, NativeMemory.engineFloats(m, copied, new Shape(3, 2)).toFloatArray(), 0f);
        }
    }

    /**
     * A tensor written straight from the engine's memory, piece by piece, has the bytes of the
     * element-wise conversion of each value (BF16 and F16 rounded to nearest even, F32 as is).
     */
    @Test
    void tensorDataNarrowsEachValueInPlace() throws IOException {
        float[] values = new float[1000];
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) r.nextGaussian() * (i % 7 == 0 ? 1e4f : 1f);
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(values, new Shape(40, 25));
            for (Dtype d : List.of(Dtype.F32, Dtype.BF16, Dtype.F16)) {
                TensorData t = NativeMemory.tensorData("w", d, a, 300);
                assertArrayEquals(new long[] {40, 25}, t.shape());
                Path f = tmp.resolve(d.name());
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    t.source().writeTo(ch);
                }
                ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(t.byteSize(), b.capacity());
                for (int i = 0; i < values.length; i++) {
                    int expected = switch (d) {
                        case F32 -> Float.floatToRawIntBits(values[i]);
                        case BF16 -> FloatConversions.floatToBf16(values[i]);
                        default -> FloatConversions.floatToF16(values[i]);
                    };
                    assertEquals(expected, d == Dtype.F32 ? b.getInt(4 * i) : b.getShort(2 * i), d + " element " + i);
                }
            }
        }
    }

    /**
     * A Qwen2.5-7B-sized untied head, 152064 × 3584 FLOAT32 (2.18 GB, over the 2 GiB one buffer
     * can address), is filled from BF16 rows in pieces; the engine reads back the values at the
     * pieces' edges and the last one, and a matmul over the rows past 2 GiB sees them.
     */
    @Test
    void arraysOver2GiBAreFilledAndReadInPieces() throws IOException {
        long rows = 152064;
        long cols = 3584;
        try (Arena arena = Arena.ofConfined(); NDManager m = NDManager.newBaseManager()) {
            MemorySegment bf16 = arena.allocate(rows * cols * 2, 2);
            // element e holds the BF16 of (e mod 251) - 125: exact in BF16, different across a piece's edge
            for (long e = 0; e < 251; e++) {
                bf16.setAtIndex(ValueLayout.JAVA_SHORT, e, FloatConversions.floatToBf16((float) (e - 125)));
            }
            for (long filled = 251; filled < rows * cols; filled *= 2) { // the pattern repeats every 251 elements: double it
                MemorySegment.copy(bf16, 0, bf16, filled * 2, Math.min(filled, rows * cols - filled) * 2);
            }
            NDArray a = NativeMemory.engineFloats(m, new Shape(rows, cols),
                    (dst, first) -> FloatConversions.widen(Dtype.BF16, bf16.asSlice(first * 2), dst, dst.byteSize() / 4));
            for (long e : new long[] {0, NativeMemory.PIECE - 1, NativeMemory.PIECE, 2 * NativeMemory.PIECE + 5, rows * cols - 1}) {
                assertEquals((float) (e % 251 - 125), a.get(e / cols, e % cols).getFloat(), "element " + e);
            }
            NDArray lastRows = a.get("152000:").matMul(m.ones(new Shape(cols, 1)));
            for (long row = 152000; row < rows; row += 21) {
                double sum = 0;
                for (long c = 0; c < cols; c++) {
                    sum += (row * cols + c) % 251 - 125;
                }
                assertEquals(sum, lastRows.getFloat(row - 152000, 0), 0.0, "row " + row);
            }
            long[] count = {0};
            double[] checksum = {0};
            NativeMemory.read(a, (src, first) -> {
                count[0] += src.byteSize() / 4;
                checksum[0] += src.getAtIndex(ValueLayout.JAVA_FLOAT, src.byteSize() / 4 - 1);
            });
            assertEquals(rows * cols, count[0]);
            assertEquals((NativeMemory.PIECE - 1) % 251 - 125 + (2 * NativeMemory.PIECE - 1) % 251 - 125 + (rows * cols - 1) % 251 - 125, checksum[0]);
        }
    }
}
