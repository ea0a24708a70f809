package org.fmsmo.core.io.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.OutputFiles;

/**
 * Writes safetensors files and Hugging Face model folders ({@code model.safetensors}, or shards
 * {@code model-0000i-of-0000n.safetensors} with {@code model.safetensors.index.json}). Folders are
 * written atomically: into a hidden sibling folder that is renamed into place only when complete.
 */
public final class SafetensorsWriter {

    /** Single-file name, and the index name of sharded folders (as Hugging Face writes them). */
    public static final String SINGLE = "model.safetensors";
    /** The index of a sharded folder. */
    public static final String INDEX = "model.safetensors.index.json";

    private SafetensorsWriter() {
    }

    /** Writes one file: 8-byte header length, JSON header padded with spaces to 8 bytes, data. */
    public static void writeFile(Path file, List<TensorData> tensors, Map<String, String> metadata) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (TensorData t : tensors) {
            if (header.has(t.name())) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, file + ": two tensors named '" + t.name() + "'");
            }
            ObjectNode n = header.putObject(t.name());
            n.put("dtype", t.dtype().name());
            var shape = n.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            var offsets = n.putArray("data_offsets");
            offsets.add(offset);
            offset += t.byteSize();
            offsets.add(offset);
        }
        byte[] text = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(text);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (head.hasRemaining()) {
                ch.write(head);
            }
            long dataStart = ch.position();
            long expected = 0;
            for (TensorData t : tensors) {
                t.source().writeTo(ch);
                expected += t.byteSize();
                if (ch.position() - dataStart != expected) {
                    throw new FmsmoException(ErrorCode.INTERNAL, file + ": tensor '" + t.name() + "' wrote "
                            + (ch.position() - dataStart - expected + t.byteSize()) + " bytes, expected " + t.byteSize());
                }
            }
            // A source may skip over zeros (sparse files); the skipped tail exists only once a byte is written at its end.
            if (ch.size() < ch.position()) {
                ch.write(ByteBuffer.allocate(1), ch.position() - 1);
            }
        }
    }

    /**
     * Writes a model folder atomically.
     *
     * @param dir           must not exist
     * @param maxShardBytes shard when the tensors' total exceeds this (a tensor larger than it gets a shard of its own)
     * @param extraFiles    files copied in beside the weights (config.json, tokenizer.json ...), by name
     * @return {@code dir}
     */
    public static Path writeModel(Path dir, List<TensorData> tensors, Map<String, String> metadata, long maxShardBytes,
                                  Map<String, Path> extraFiles) {
        return writeModel(dir, tensors, metadata, maxShardBytes, extraFiles, Map.of());
    }

    /**
     * Writes a model folder atomically, with generated text files ({@code config.json} …) beside the weights.
     *
     * @param textFiles contents by relative path ({@code 1_Pooling/config.json} creates the folder)
     */
    public static Path writeModel(Path dir, List<TensorData> tensors, Map<String, String> metadata, long maxShardBytes,
                                  Map<String, Path> extraFiles, Map<String, String> textFiles) {
        if (Files.exists(dir)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output folder " + dir + " already exists; choose a new one");
        }
        OutputFiles.removeDeadTemporaries(dir, removed -> { }); // those of killed runs to the same folder
        Path tmp = OutputFiles.temporarySibling(dir);
        try {
            Files.createDirectories(tmp);
            List<List<TensorData>> shards = shard(tensors, maxShardBytes);
            if (shards.size() == 1) {
                writeFile(tmp.resolve(SINGLE), shards.getFirst(), metadata);
            } else {
                Map<String, String> weightMap = new LinkedHashMap<>();
                long total = 0;
                for (int i = 0; i < shards.size(); i++) {
                    String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                    writeFile(tmp.resolve(name), shards.get(i), metadata);
                    for (TensorData t : shards.get(i)) {
                        weightMap.put(t.name(), name);
                        total += t.byteSize();
                    }
                }
                ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode index = json.createObjectNode();
                index.putObject("metadata").put("total_size", total);
                ObjectNode map = index.putObject("weight_map");
                weightMap.forEach(map::put);
                Files.writeString(tmp.resolve(INDEX), json.writeValueAsString(index));
            }
            for (Map.Entry<String, Path> e : extraFiles.entrySet()) {
                Path target = tmp.resolve(e.getKey());
                Files.createDirectories(target.getParent());
                Files.copy(e.getValue(), target);
            }
            for (Map.Entry<String, String> e : textFiles.entrySet()) {
                Path target = tmp.resolve(e.getKey()).normalize();
                if (!target.startsWith(tmp)) {
                    throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "file name " + e.getKey() + " leaves the output folder");
                }
                Files.createDirectories(target.getParent());
                Files.writeString(target, e.getValue());
            }
            org.fmsmo.core.io.Checksums.write(tmp);
            OutputFiles.commit(tmp, dir, false);
            return dir;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + dir + ": " + e.getMessage(), e);
        } finally {
            OutputFiles.deleteTree(tmp);
        }
    }

    private static List<List<TensorData>> shard(List<TensorData> tensors, long maxShardBytes) {
        List<List<TensorData>> shards = new ArrayList<>();
        List<TensorData> current = new ArrayList<>();
        long size = 0;
        for (TensorData t : tensors) {
            if (!current.isEmpty() && size + t.byteSize() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.byteSize();
        }
        shards.add(current);
        return shards;
    }

}
