package org.fmsmo.core.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * A Hugging Face {@code config.json}, read once and asked for typed values. Every missing or
 * ill-typed key is an error that names the file, the key and what was expected, so that the
 * typed per-architecture configs built on it stay short.
 */
public final class HfConfig {

    /** The file name inside a model folder. */
    public static final String FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final ObjectNode root;

    private HfConfig(Path file, ObjectNode root) {
        this.file = file;
        this.root = root;
    }

    /**
     * Reads {@code dir/config.json}.
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} for a missing or malformed file
     */
    public static HfConfig read(Path dir) {
        Path file = dir.resolve(FILE);
        try {
            JsonNode node = JSON.readTree(Files.readString(file));
            if (!(node instanceof ObjectNode obj)) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": expected a JSON object, found " + node.getNodeType());
            }
            return new HfConfig(file, obj);
        } catch (NoSuchFileException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "no " + FILE + " in " + dir + "; expected a Hugging Face model folder");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /** A copy of the JSON, for writing a modified config. */
    public ObjectNode json() {
        return root.deepCopy();
    }

    /** {@code model_type}, required. */
    public String modelType() {
        return string("model_type");
    }

    /** The first of {@code architectures}, or the fallback when the key is absent. */
    public String architecture(String fallback) {
        JsonNode a = root.get("architectures");
        return a != null && a.isArray() && !a.isEmpty() ? a.get(0).asText() : fallback;
    }

    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    public String string(String key) {
        return require(key, JsonNode::isTextual, "a string").asText();
    }

    public String string(String key, String fallback) {
        return has(key) ? string(key) : fallback;
    }

    public int integer(String key) {
        JsonNode n = require(key, JsonNode::canConvertToInt, "an integer");
        if (!n.isIntegralNumber()) {
            throw wrong(key, "an integer", n);
        }
        return n.intValue();
    }

    public int integer(String key, int fallback) {
        return has(key) ? integer(key) : fallback;
    }

    public double number(String key) {
        return require(key, JsonNode::isNumber, "a number").doubleValue();
    }

    public double number(String key, double fallback) {
        return has(key) ? number(key) : fallback;
    }

    /**
     * An optional number strictly between {@code min} and {@code max}: a zero or negative epsilon or
     * rope theta is valid JSON but gives NaN logits, so it is refused here, by range, not only by type.
     */
    public double numberBetween(String key, double fallback, double min, double max) {
        double v = number(key, fallback);
        if (!(v > min && v < max)) {
            throw invalid(key, "must be in (" + min + ", " + max + "), found " + v);
        }
        return v;
    }

    public boolean bool(String key, boolean fallback) {
        return has(key) ? require(key, JsonNode::isBoolean, "true or false").booleanValue() : fallback;
    }

    /** A nested object, or null when absent or JSON null. */
    public JsonNode object(String key) {
        return has(key) ? require(key, JsonNode::isObject, "an object") : null;
    }

    /** A required integer that must be positive (sizes, head counts). */
    public int positive(String key) {
        int v = integer(key);
        if (v <= 0) {
            throw invalid(key, "must be positive, found " + v);
        }
        return v;
    }

    /** An optional positive integer. */
    public int positive(String key, int fallback) {
        return has(key) ? positive(key) : fallback;
    }

    /** An error about this file that names a key. */
    public FmsmoException invalid(String key, String message) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": '" + key + "' " + message);
    }

    private JsonNode require(String key, java.util.function.Predicate<JsonNode> ok, String expected) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": required key '" + key + "' is missing; expected " + expected);
        }
        if (!ok.test(n)) {
            throw wrong(key, expected, n);
        }
        return n;
    }

    private FmsmoException wrong(String key, String expected, JsonNode found) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": '" + key + "' must be " + expected + ", found " + found);
    }
}
