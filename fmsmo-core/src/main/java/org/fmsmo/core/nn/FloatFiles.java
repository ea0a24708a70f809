package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * FLOAT32 arrays moved out of memory into files of their raw little-endian bytes, bit for bit,
 * and read back: what a streamed run keeps of its calibration passes when memory is the limit.
 */
public final class FloatFiles {

    private FloatFiles() {
    }

    /**
     * Writes {@code a} (FLOAT32) to {@code file}, replacing it; a reader never sees half a file.
     *
     * @param what what the array is, for the error message
     */
    public static void write(Path file, NDArray a, String what) {
        Path tmp = file.resolveSibling(file.getFileName() + ".new");
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                ByteBuffer b = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                while (b.hasRemaining()) {
                    c.write(b);
                }
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot offload " + what + " to " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The array of {@code shape} that {@link #write} put in {@code file}, in {@code manager} (and
     * the current scope). The file is mapped and copied once into the engine's memory.
     */
    public static NDArray read(NDManager manager, Path file, Shape shape, String what) {
        long bytes = shape.size() * 4;
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ); Arena mapping = Arena.ofConfined()) {
            if (c.size() != bytes) {
                throw new IOException("it has " + c.size() + " bytes, expected " + bytes + " for " + shape);
            }
            MemorySegment m = c.map(FileChannel.MapMode.READ_ONLY, 0, bytes, mapping);
            NDArray aliased = manager.create(m.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), shape, DataType.FLOAT32);
            NDArray owned = aliased.duplicate(); // the engine's own copy: the mapping ends here
            aliased.close();
            return owned;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read offloaded " + what + " " + file + ": " + e.getMessage(), e);
        }
    }
}
