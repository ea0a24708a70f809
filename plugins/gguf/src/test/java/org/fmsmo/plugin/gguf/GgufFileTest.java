package org.fmsmo.plugin.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file layout, written and read back, and the reader's refusals of damaged files. */
class GgufFileTest {

    @TempDir
    Path tmp;

    private byte[] sample() {
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", GgufValue.string("llama"));
        w.put("general.alignment", GgufValue.u32(32));
        w.put("llama.attention.layer_norm_rms_epsilon", GgufValue.f32(1e-5));
        w.put("tokenizer.ggml.tokens", GgufValue.array(GgufValue.STRING, List.of("a", "b", "é")));
        w.put("tokenizer.ggml.token_type", GgufValue.array(GgufValue.INT32, List.of(1L, 1L, 3L)));
        w.put("tokenizer.ggml.add_bos_token", GgufValue.bool(true));
        float[] v = new float[64];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i - 30) / 7f;
        }
        w.tensor("norm.weight", new long[] {3}, GgmlType.F32, () -> GgmlType.little(12).putFloat(1).putFloat(2).putFloat(3).flip());
        w.tensor("w.weight", new long[] {32, 2}, GgmlType.Q8_0, () -> {
            ByteBuffer b = GgmlType.little(68);
            GgmlType.Q8_0.quantize(v, b);
            return b.flip();
        });
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        w.write(Channels.newChannel(out), () -> { });
        return out.toByteArray();
    }

    private Path file(byte[] bytes) throws Exception {
        Path f = Files.createTempFile(tmp, "m", ".gguf");
        Files.write(f, bytes);
        return f;
    }

    @Test
    void whatIsWrittenIsReadBack() throws Exception {
        byte[] bytes = sample();
        ByteBuffer head = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("GGUF", new String(bytes, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(3, head.getInt(4), "version 3");
        assertEquals(2, head.getLong(8), "tensor count");
        assertEquals(6, head.getLong(16), "metadata count");
        GgufFile g = GgufFile.read(file(bytes));
        assertEquals("llama", g.metadata().get("general.architecture").value());
        assertEquals(List.of("a", "b", "é"), g.metadata().get("tokenizer.ggml.tokens").value());
        assertEquals(true, g.metadata().get("tokenizer.ggml.add_bos_token").value());
        assertEquals(1e-5, (double) g.metadata().get("llama.attention.layer_norm_rms_epsilon").value(), 1e-12);
        GgufFile.TensorInfo n = g.tensors().get("norm.weight");
        assertArrayEquals(new float[] {1, 2, 3}, g.floats(n));
        GgufFile.TensorInfo w = g.tensors().get("w.weight");
        assertEquals(32, w.offset(), "the second tensor starts at the next multiple of 32");
        assertEquals(GgmlType.Q8_0, w.type());
        assertEquals(0, bytes.length % 32, "the data section starts aligned, and every tensor is padded to the alignment");
        float[] y = g.floats(w);
        assertEquals(64, y.length);
        assertEquals((33 - 30) / 7f, y[33], 0.5 * (34 / 7f) / 127 + 1e-6);
    }

    /**
     * A file over 2 GiB (a 7B model's is 4–15 GB) is read: the second tensor is moved 2.5 GiB into
     * the data section, the gap left as a hole in a sparse file, and its values come back; an F32
     * tensor stored in over 2 GiB is refused with its name and size.
     */
    @Test
    void filesOver2GiBAreRead() throws Exception {
        byte[] bytes = sample();
        GgufFile small = GgufFile.read(file(bytes));
        GgufFile.TensorInfo w = small.tensors().get("w.weight");
        long dataStart = bytes.length - 32 - 96; // the data section: norm (12 bytes, padded to 32), then w (68, padded to 96)
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int at = indexOf(bytes, "w.weight".getBytes(java.nio.charset.StandardCharsets.UTF_8)) + 8 + 4 + 2 * 8 + 4; // name, dims, type
        assertEquals(32, b.getLong(at), "w.weight's offset field");
        long far = 5L << 29; // 2.5 GiB, a multiple of the alignment
        b.putLong(at, far);
        Path f = tmp.resolve("big.gguf");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.SPARSE)) {
            ch.write(ByteBuffer.wrap(bytes, 0, (int) dataStart + 32));
            ch.write(ByteBuffer.wrap(bytes, (int) dataStart + 32, 96), dataStart + far);
        }
        assertTrue(Files.size(f) > far, "the file is over 2 GiB");
        GgufFile big = GgufFile.read(f);
        assertEquals(far, big.tensors().get("w.weight").offset());
        assertArrayEquals(small.floats(w), big.floats(big.tensors().get("w.weight")));
        assertArrayEquals(new float[] {1, 2, 3}, big.floats(big.tensors().get("norm.weight")));

        GgufFile.TensorInfo huge = new GgufFile.TensorInfo("token_embd.weight", new long[] {3584, 152064}, GgmlType.F32, 0, 3584L * 152064);
        FmsmoException e = assertThrows(FmsmoException.class, () -> big.bytes(huge));
        assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
        assertTrue(e.getMessage().contains("token_embd.weight") && e.getMessage().contains("2179989504 bytes"), e.getMessage());
    }

    private static int indexOf(byte[] in, byte[] what) {
        for (int i = 0; i + what.length <= in.length; i++) {
            if (java.util.Arrays.equals(in, i, i + what.length, what, 0, what.length)) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }

    @Test
    void damagedFilesAreRefusedNamingWhatIsWrong() throws Exception {
        byte[] good = sample();
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertCorrupt(magic, "does not start with GGUF");
        assertCorrupt(java.util.Arrays.copyOf(good, good.length - 40), "runs past the end of the file");
        assertCorrupt(java.util.Arrays.copyOf(good, 30), "more than the file can hold");
        assertCorrupt(java.util.Arrays.copyOf(good, 100), "needs");
        assertCorrupt(new byte[0], "needs");
        byte[] count = good.clone();
        ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).putLong(16, Long.MAX_VALUE / 2);
        assertCorrupt(count, "more than the file can hold");
        byte[] version = good.clone();
        ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 9);
        FmsmoException e = assertThrows(FmsmoException.class, () -> GgufFile.read(file(version)));
        assertEquals(ErrorCode.UNSUPPORTED_SPEC, e.code());
    }

    private void assertCorrupt(byte[] bytes, String says) throws Exception {
        Path f = file(bytes);
        FmsmoException e = assertThrows(FmsmoException.class, () -> GgufFile.read(f));
        assertEquals(ErrorCode.CORRUPT_INPUT, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(says) && e.getMessage().contains(f.toString()), e.getMessage());
    }
}
