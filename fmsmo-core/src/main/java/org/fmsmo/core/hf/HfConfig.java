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
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.arch.RopeParameters;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code config.json}, read once and asked for typed values. Every missing or
 * ill-typed key is an error that names the file, the key and what was expected, so that the
 * typed per-architecture configs built on it stay short.
 */
public final class HfConfig implements ModelConfig {

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
    @Override
    public String modelType() {
        return string("model_type");
    }

    /** The first of {@code architectures}, or the fallback when the key is absent. */
    public String architecture(String fallback) {
        JsonNode a = root.get("architectures");
        return a != null && a.isArray() && !a.isEmpty() ? a.get(0).asText() : fallback;
    }

    @Override
    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    public String string(String key) {
        return require(key, JsonNode::isTextual, "a string").asText();
    }

    @Override
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

    @Override
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
    @Override
    public double numberBetween(String key, double fallback, double min, double max) {
        double v = number(key, fallback);
        if (!(v > min && v < max)) {
            throw invalid(key, "must be in (" + min + ", " + max + "), found " + v);
        }
        return v;
    }

    @Override
    public boolean bool(String key, boolean fallback) {
        return has(key) ? require(key, JsonNode::isBoolean, "true or false").booleanValue() : fallback;
    }

    /** A nested object, or null when absent or JSON null. */
    public JsonNode object(String key) {
        return has(key) ? require(key, JsonNode::isObject, "an object") : null;
    }

    /** A required integer that must be positive (sizes, head counts). */
    @Override
    public int positive(String key) {
        int v = integer(key);
        if (v <= 0) {
            throw invalid(key, "must be positive, found " + v);
        }
        return v;
    }

    /** An optional positive integer. */
    @Override
    public int positive(String key, int fallback) {
        return has(key) ? positive(key) : fallback;
    }

    /** An error about this file that names a key. */
    @Override
    public FmsmoException invalid(String key, String message) {
        return new FmsmoException(ErrorCode.CORRUPT_INPUT, file + ": '" + key + "' " + message);
    }

    @Override
    public FmsmoException unsupported(String key, String message) {
        return new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, file + ": '" + key + "' " + message);
    }

    @Override
    public boolean present(String key) {
        return root.has(key);
    }

    @Override
    public String location() {
        return file.toString();
    }

    @Override
    public List<String> strings(String key) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array(key)) {
            if (!n.isTextual()) {
                throw wrong(key, "a list of strings", root.get(key));
            }
            out.add(n.asText());
        }
        return out;
    }

    @Override
    public List<Integer> integers(String key) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode n : array(key)) {
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw wrong(key, "a list of integers", root.get(key));
            }
            out.add(n.intValue());
        }
        return out;
    }

    private JsonNode array(String key) {
        return has(key) ? require(key, JsonNode::isArray, "a list") : JSON.createArrayNode();
    }

    /**
     * Both forms: transformers 5 writes {@code rope_parameters} (with {@code rope_theta} inside,
     * or one such object per layer type); transformers 4 wrote {@code rope_theta} at the top and
     * the scaling in {@code rope_scaling}.
     */
    @Override
    public RopeParameters rope(String layerType, double fallbackTheta) {
        double theta = numberBetween("rope_theta", fallbackTheta, 0, Double.POSITIVE_INFINITY);
        double partial = numberBetween("partial_rotary_factor", 1.0, 0, 1.0 + 1e-9);
        String key = has("rope_parameters") ? "rope_parameters" : "rope_scaling";
        JsonNode p = object(key);
        if (p != null && !p.has("rope_type") && !p.has("type") && !p.has("rope_theta") && p.get(layerType) != null) {
            key = key + "." + layerType;
            p = p.get(layerType);
            if (!p.isObject()) {
                throw wrong(key, "an object", p);
            }
        }
        if (p == null) {
            return new RopeParameters("default", theta, partial, Map.of());
        }
        String type = "default";
        Map<String, Double> scaling = new LinkedHashMap<>();
        for (var it = p.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "rope_type", "type" -> {
                    if (!v.isTextual()) {
                        throw wrong(key + "." + e.getKey(), "a string", v);
                    }
                    type = v.asText();
                }
                case "rope_theta" -> theta = positiveNumber(key + ".rope_theta", v);
                case "partial_rotary_factor" -> partial = positiveNumber(key + ".partial_rotary_factor", v);
                default -> {
                    if (v.isNumber()) {
                        scaling.put(e.getKey(), v.doubleValue());
                    }
                }
            }
        }
        if (partial > 1) {
            throw invalid(key + ".partial_rotary_factor", "must be in (0, 1], found " + partial);
        }
        return new RopeParameters(type, theta, partial, scaling);
    }

    private double positiveNumber(String key, JsonNode v) {
        if (!v.isNumber() || !(v.doubleValue() > 0) || Double.isInfinite(v.doubleValue())) {
            throw wrong(key, "a positive number", v);
        }
        return v.doubleValue();
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
