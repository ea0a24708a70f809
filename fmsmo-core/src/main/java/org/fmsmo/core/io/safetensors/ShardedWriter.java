package org.fmsmo.core.io.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * Writes a model's tensors into hub-style shards as they are produced, so that an output larger
 * than memory is never held: each tensor's bytes go at once to the open shard's data file; when
 * the next tensor would take the shard past the size limit, the shard is sealed (header, then the
 * data, into its {@code .safetensors} file). {@link #finish} names the shards
 * {@code model-0000k-of-0000n.safetensors} with an index, or {@code model.safetensors} when there
 * is one. Writes into a folder the caller owns (a temporary one) and commits nothing itself.
 */
public final class ShardedWriter {

    private record Entry(String name, Dtype dtype, long[] shape, long offset, long bytes) {
    }

    private final Path dir;
    private final long maxShardBytes;
    private final Map<String, String> metadata;
    private final List<Path> sealed = new ArrayList<>();
    private final List<List<String>> sealedNames = new ArrayList<>();
    private final List<Entry> open = new ArrayList<>();
    private FileChannel data;
    private long size;
    private long total;

    /**
     * @param dir           an existing folder the shards are written into
     * @param maxShardBytes shard size limit; a tensor larger than it gets a shard of its own
     */
    public ShardedWriter(Path dir, long maxShardBytes, Map<String, String> metadata) {
        this.dir = dir;
        this.maxShardBytes = maxShardBytes;
        this.metadata = Map.copyOf(metadata);
    }

    /** Writes one tensor now. */
    public void add(TensorData t) {
        try {
            if (!open.isEmpty() && size + t.byteSize() > maxShardBytes) {
                seal();
            }
            if (data == null) {
                data = FileChannel.open(dataFile(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
            }
            long before = data.position();
            t.source().writeTo(data);
            if (data.position() - before != t.byteSize()) {
                throw new FmsmoException(ErrorCode.INTERNAL, dir + ": tensor '" + t.name() + "' wrote " + (data.position() - before)
                        + " bytes, expected " + t.byteSize());
            }
            open.add(new Entry(t.name(), t.dtype(), t.shape(), before, t.byteSize()));
            size += t.byteSize();
            total += t.byteSize();
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write tensor '" + t.name() + "' into " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Bytes of tensor data written so far. */
    public long bytesWritten() {
        return total;
    }

    /**
     * Seals the last shard, names the shards and writes the index.
     *
     * @return the weight files' names
     */
    public List<String> finish() {
        try {
            if (!open.isEmpty() || sealed.isEmpty()) {
                seal();
            }
            List<String> names = new ArrayList<>();
            if (sealed.size() == 1) {
                Files.move(sealed.getFirst(), dir.resolve(SafetensorsWriter.SINGLE));
                names.add(SafetensorsWriter.SINGLE);
                return names;
            }
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode index = json.createObjectNode();
            index.putObject("metadata").put("total_size", total);
            ObjectNode map = index.putObject("weight_map");
            for (int i = 0; i < sealed.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, sealed.size());
                Files.move(sealed.get(i), dir.resolve(name));
                names.add(name);
                for (String t : sealedNames.get(i)) {
                    map.put(t, name);
                }
            }
            Files.writeString(dir.resolve(SafetensorsWriter.INDEX), json.writeValueAsString(index));
            return names;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the shards in " + dir + ": " + e.getMessage(), e);
        }
    }

    private Path dataFile() {
        return dir.resolve("shard-" + (sealed.size() + 1) + ".data");
    }

    /** Header + the open shard's data into its file; the data file is removed. */
    private void seal() throws IOException {
        Path file = dir.resolve("shard-" + (sealed.size() + 1) + ".safetensors");
        List<TensorData> tensors = new ArrayList<>();
        FileChannel src = data;
        for (Entry e : open) {
            tensors.add(new TensorData(e.name(), e.dtype(), e.shape(), ch -> {
                long done = 0;
                while (done < e.bytes()) {
                    done += src.transferTo(e.offset() + done, e.bytes() - done, ch);
                }
            }));
        }
        SafetensorsWriter.writeFile(file, tensors, metadata);
        if (data != null) {
            data.close();
            Files.delete(dataFile());
            data = null;
        }
        sealed.add(file);
        sealedNames.add(open.stream().map(Entry::name).toList());
        open.clear();
        size = 0;
    }
}
