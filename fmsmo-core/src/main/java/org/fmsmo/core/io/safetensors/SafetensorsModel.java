package org.fmsmo.core.io.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The weights of a Hugging Face model folder: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}. Shards are mapped when first used, so a large model costs
 * address space, not heap; one tensor is read at a time. Not thread-safe for opening shards.
 */
public final class SafetensorsModel implements AutoCloseable {

    private final Path dir;
    private final Map<String, String> shardOf;          // tensor → shard file name
    private final Map<String, SafetensorsFile> open = new LinkedHashMap<>();

    private SafetensorsModel(Path dir, Map<String, String> shardOf) {
        this.dir = dir;
        this.shardOf = shardOf;
    }

    /**
     * Opens a folder; with an index every shard it names must exist (checked now), and each
     * tensor must be in the shard the index says (checked when the shard is opened).
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming the missing or broken file
     */
    /**
     * The JSON reader for headers and indexes: a name given twice is an error (the format forbids
     * it; a lenient reader lets the last one silently win).
     */
    static final ObjectMapper STRICT_JSON = new ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    public static SafetensorsModel open(Path dir) {
        Path index = dir.resolve(SafetensorsWriter.INDEX);
        if (Files.isRegularFile(index)) {
            JsonNode root;
            try {
                root = STRICT_JSON.readTree(index.toFile());
            } catch (IOException e) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, index + ": not valid JSON: " + e.getMessage(), e);
            }
            JsonNode map = root == null ? null : root.get("weight_map");
            if (map == null || !map.isObject()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, index + ": expected an object 'weight_map' of tensor name to shard file");
            }
            Map<String, String> shardOf = new LinkedHashMap<>();
            map.fields().forEachRemaining(e -> {
                if (!e.getValue().isTextual()) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, index + ": weight_map['" + e.getKey() + "'] must be a shard file name, found "
                            + e.getValue());
                }
                shardOf.put(e.getKey(), e.getValue().asText());
            });
            for (String shard : shardOf.values().stream().distinct().toList()) {
                if (shard.contains("/") || shard.contains("\\") || !Files.isRegularFile(dir.resolve(shard))) {
                    throw new FmsmoException(ErrorCode.CORRUPT_INPUT, index + " names shard '" + shard + "', which is missing from " + dir);
                }
            }
            return new SafetensorsModel(dir, Collections.unmodifiableMap(shardOf));
        }
        Path single = dir.resolve(SafetensorsWriter.SINGLE);
        if (!Files.isRegularFile(single)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, dir + ": no " + SafetensorsWriter.SINGLE + " and no " + SafetensorsWriter.INDEX);
        }
        SafetensorsFile f = SafetensorsFile.open(single);
        Map<String, String> shardOf = new LinkedHashMap<>();
        f.tensors().keySet().forEach(n -> shardOf.put(n, SafetensorsWriter.SINGLE));
        SafetensorsModel m = new SafetensorsModel(dir, Collections.unmodifiableMap(shardOf));
        m.open.put(SafetensorsWriter.SINGLE, f);
        return m;
    }

    /** The folder. */
    public Path dir() {
        return dir;
    }

    /** Every tensor name, in index (or header) order. */
    public java.util.Set<String> names() {
        return shardOf.keySet();
    }

    /** The file holding {@code name}, opened on first use. */
    public SafetensorsFile file(String name) {
        String shard = shardOf.get(name);
        if (shard == null) {
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, dir + ": no tensor '" + name + "' (" + shardOf.size() + " tensors)");
        }
        SafetensorsFile f = open.computeIfAbsent(shard, s -> SafetensorsFile.open(dir.resolve(s)));
        if (!f.tensors().containsKey(name)) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, dir.resolve(SafetensorsWriter.INDEX) + " puts tensor '" + name
                    + "' in " + shard + ", which does not contain it");
        }
        return f;
    }

    /** Elements of all stored tensors: the parameter count of an unquantized checkpoint. */
    public long elementCount() {
        long n = 0;
        for (String name : names()) {
            n += info(name).elements();
        }
        return n;
    }

    /** A tensor's entry. */
    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    /** A float tensor as F32 values. */
    public float[] floats(String name) {
        return file(name).floats(name);
    }

    /** Unmaps every opened shard. */
    @Override
    public void close() {
        open.values().forEach(SafetensorsFile::close);
        open.clear();
    }
}
