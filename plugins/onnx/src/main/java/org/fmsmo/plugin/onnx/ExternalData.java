package org.fmsmo.plugin.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * ONNX's external data: initializers' bytes in a file beside the graph, which then holds only each
 * tensor's {@code location}, {@code offset} and {@code length}, so that a model can pass protobuf's
 * 2 GiB. Each tensor starts at a multiple of 4096, as {@code onnx.proto} asks, so that a runtime can
 * map the file; the gaps are zeros.
 */
final class ExternalData {

    /** Tensors smaller than this stay in the graph (onnx's own {@code size_threshold}). */
    static final int SMALLEST = 1024;

    private static final int ALIGNMENT = 4096;

    private final String location;
    private final WritableByteChannel out;
    private long position;

    /** @param location the file's name, relative to the graph's folder */
    ExternalData(String location, WritableByteChannel out) {
        this.location = location;
        this.out = out;
    }

    String location() {
        return location;
    }

    /** Bytes written so far, padding included. */
    long size() {
        return position;
    }

    /** Writes {@code raw} at the next aligned offset and returns that offset. */
    long append(byte[] raw) {
        try {
            long offset = (position + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
            write(ByteBuffer.allocate((int) (offset - position)));
            write(ByteBuffer.wrap(raw));
            position = offset + raw.length;
            return offset;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }
}
