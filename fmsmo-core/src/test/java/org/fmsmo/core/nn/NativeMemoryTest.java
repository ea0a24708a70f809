package org.fmsmo.core.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

class NativeMemoryTest {

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

    /** An array over the 2 GiB DJL can hand out as one buffer is refused before anything is allocated, with the sizes. */
    @Test
    void arraysOver2GiBAreRefusedWithTheirSize() {
        try (NDManager m = NDManager.newBaseManager()) {
            FmsmoException e = assertThrows(FmsmoException.class,
                    () -> NativeMemory.engineFloats(m, new Shape(152064, 3584), dst -> { throw new AssertionError("filled"); }));
            assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
            assertTrue(e.getMessage().contains("(152064, 3584)") && e.getMessage().contains("2179989504 bytes"), e.getMessage());
        }
    }
}
