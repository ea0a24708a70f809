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

    /** A shard's data file or sealed file while it is written ({@link #dataFile}, {@link #seal}). */
    private static final java.util.regex.Pattern SHARD_FILE = java.util.regex.Pattern.compile("shard-(\\d+)\\.(data|safetensors)");

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
     * Forces what was written so far to the disk and describes it, so that a run killed later can
     * go on from here ({@link #resume}) and still write the same bytes as one that was not.
     */
    public Map<String, Object> checkpoint() {
        try {
            if (data != null) {
                data.force(true);
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot flush " + dataFile() + ": " + e.getMessage(), e);
        }
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("sealed", new ArrayList<>(sealedNames));
        List<Map<String, Object>> entries = new ArrayList<>();
        for (Entry e : open) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", e.name());
            m.put("dtype", e.dtype().name());
            m.put("shape", java.util.Arrays.stream(e.shape()).boxed().toList());
            m.put("offset", e.offset());
            m.put("bytes", e.bytes());
            entries.add(m);
        }
        s.put("open", entries);
        s.put("size", size);
        s.put("total", total);
        return s;
    }

    /**
     * A writer that goes on from a {@link #checkpoint} of an earlier writer in {@code dir}: what that
     * writer did after the checkpoint (tensors added, a shard sealed, a partial file) is undone.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} when the folder does not hold what the checkpoint describes
     */
    public static ShardedWriter resume(Path dir, long maxShardBytes, Map<String, String> metadata, Map<String, Object> checkpoint) {
        ShardedWriter w = new ShardedWriter(dir, maxShardBytes, metadata);
        try {
            for (Object names : (List<?>) checkpoint.get("sealed")) {
                w.sealedNames.add(((List<?>) names).stream().map(Object::toString).toList());
                Path file = dir.resolve("shard-" + w.sealedNames.size() + ".safetensors");
                if (!Files.isRegularFile(file)) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, dir + ": the saved run state names sealed shard " + file.getFileName()
                            + ", which is missing");
                }
                w.sealed.add(file);
            }
            for (Object o : (List<?>) checkpoint.get("open")) {
                Map<?, ?> m = (Map<?, ?>) o;
                long[] shape = ((List<?>) m.get("shape")).stream().mapToLong(x -> ((Number) x).longValue()).toArray();
                w.open.add(new Entry((String) m.get("name"), Dtype.valueOf((String) m.get("dtype")), shape, ((Number) m.get("offset")).longValue(),
                        ((Number) m.get("bytes")).longValue()));
            }
            w.size = ((Number) checkpoint.get("size")).longValue();
            w.total = ((Number) checkpoint.get("total")).longValue();
        } catch (ClassCastException | NullPointerException | IllegalArgumentException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, dir + ": the saved run state is not a shard writer's checkpoint: " + e.getMessage(), e);
        }
        try {
            w.rollBack();
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot resume writing in " + dir + ": " + e.getMessage(), e);
        }
        return w;
    }

    /** Brings the open shard back to the checkpoint's bytes and removes every later file. */
    private void rollBack() throws IOException {
        int k = sealed.size() + 1;
        Path dataFile = dataFile();
        Path sealedLater = dir.resolve("shard-" + k + ".safetensors");
        if (open.isEmpty()) {
            Files.deleteIfExists(dataFile);
            Files.deleteIfExists(sealedLater);
        } else if (Files.isRegularFile(dataFile)) {
            Files.deleteIfExists(sealedLater); // a seal that did not finish: the data file is still whole
        } else if (Files.isRegularFile(sealedLater)) {
            // Sealed after the checkpoint: its data section starts with the checkpoint's bytes.
            try (FileChannel in = FileChannel.open(sealedLater, StandardOpenOption.READ);
                 FileChannel out = FileChannel.open(dataFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                java.nio.ByteBuffer n = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                while (n.hasRemaining() && in.read(n) >= 0) {
                    // an 8-byte header length
                }
                long start = 8 + n.flip().getLong();
                long done = 0;
                while (done < size) {
                    long moved = in.transferTo(start + done, size - done, out);
                    if (moved <= 0) {
                        throw new IOException(sealedLater + " holds fewer bytes than the saved run state");
                    }
                    done += moved;
                }
                out.force(true);
            }
            Files.delete(sealedLater);
        } else {
            throw new IOException("neither " + dataFile.getFileName() + " nor " + sealedLater.getFileName() + " is there");
        }
        if (!open.isEmpty()) {
            data = FileChannel.open(dataFile, StandardOpenOption.WRITE, StandardOpenOption.READ);
            if (data.size() < size) {
                throw new IOException(dataFile.getFileName() + " holds " + data.size() + " bytes, fewer than the saved " + size);
            }
            data.truncate(size);
            data.position(size);
        }
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                java.util.regex.Matcher m = SHARD_FILE.matcher(p.getFileName().toString());
                if (m.matches() && Integer.parseInt(m.group(1)) > k) {
                    Files.delete(p);
                }
            }
        }
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
