package org.fmsmo.core.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.TextFiles;

/**
 * {@code qconfig_init}: a recipe's settings with the user's overrides on top, every key and value
 * checked against {@link ConfigSchema}. Recipes are JSON: built-in ones ({@code qat_int8},
 * {@code ptq_int8}, {@code dq}) ship as resources; any file of the same shape works too. A config
 * is saved beside every output ({@link #write}) and reads back equal ({@link #read}).
 */
public final class Recipes {

    /** The built-in recipe names. */
    public static final List<String> BUILT_IN = List.of("qat_int8", "ptq_int8", "dq", "fp8_dynamic", "fp8_static");

    /** The file name a config is saved under in an output folder. */
    public static final String CONFIG_FILE = "fms_quant_config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Recipes() {
    }

    /**
     * @param recipe    a built-in name or the path of a recipe JSON file
     * @param overrides keys that win over the recipe's
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} for an unknown recipe; {@link ErrorCode#INVALID_ARGUMENT}
     *         for an unknown key or a value outside the allowed set (the message lists what is allowed)
     */
    public static QuantConfig qconfigInit(String recipe, Map<String, ?> overrides, ConfigSchema schema) {
        Map<String, Object> settings = new LinkedHashMap<>(checked(recipeJson(recipe).get("config"), "recipe " + recipe, schema));
        overrides.forEach((k, v) -> settings.put(k, schema.key(k, "override").check(v, "override")));
        return new QuantConfig(settings);
    }

    /** As above with the host's own keys only ({@link ConfigSchema#core()}): no plugin's keys are known. */
    public static QuantConfig qconfigInit(String recipe, Map<String, ?> overrides) {
        return qconfigInit(recipe, overrides, ConfigSchema.core());
    }

    /** A recipe's one-line description. */
    public static String description(String recipe) {
        return recipeJson(recipe).path("description").asText("");
    }

    /** Writes a config as flat JSON, atomically. */
    public static void write(QuantConfig config, Path file) {
        OutputFiles.writeString(file, toJson(config));
    }

    /** The flat JSON {@link #read} reads back to an equal config. */
    public static String toJson(QuantConfig config) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config.settings());
        } catch (JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.INTERNAL, "cannot serialise the config: " + e.getMessage(), e);
        }
    }

    /** Reads a config written by {@link #write}, checking it like a recipe against {@code schema}. */
    public static QuantConfig read(Path file, ConfigSchema schema) {
        try {
            return new QuantConfig(checked(JSON.readTree(TextFiles.readUtf8(file, "config file")), file.toString(), schema));
        } catch (JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The top-level keys a recipe file may hold. */
    private static final java.util.List<String> RECIPE_KEYS = java.util.List.of("description", "config");

    private static JsonNode recipeJson(String recipe) {
        try {
            JsonNode root;
            if (BUILT_IN.contains(recipe)) {
                try (InputStream in = Recipes.class.getResourceAsStream(recipe + ".json")) {
                    if (in == null) {
                        throw new FmsmoException(ErrorCode.INTERNAL, "built-in recipe " + recipe + " is missing from the fmsmo-core jar");
                    }
                    root = JSON.readTree(in);
                }
            } else if (recipe.endsWith(".json") && Files.isRegularFile(Path.of(recipe))) {
                root = JSON.readTree(TextFiles.readUtf8(Path.of(recipe), "recipe"));
            } else {
                throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "unknown recipe '" + recipe + "'; built-in: " + BUILT_IN
                        + ", or the path of a .json recipe file");
            }
            // A misspelt top-level key ("confg") would otherwise be ignored and its settings silently lost.
            java.util.List<String> unknown = new java.util.ArrayList<>();
            if (!root.isObject()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "recipe " + recipe + ": expected a JSON object {\"description\": …, \"config\": {…}}");
            }
            root.fieldNames().forEachRemaining(k -> {
                if (!RECIPE_KEYS.contains(k)) {
                    unknown.add(k);
                }
            });
            if (!unknown.isEmpty()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "recipe " + recipe + ": unknown top-level key(s) " + unknown + "; a recipe holds "
                        + RECIPE_KEYS);
            }
            if (!root.path("config").isObject()) {
                throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "recipe " + recipe + ": expected {\"description\": …, \"config\": {…}}");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, "recipe " + recipe + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read recipe " + recipe + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Object> checked(JsonNode object, String where, ConfigSchema schema) {
        if (object == null || !object.isObject()) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, where + ": expected a JSON object of config keys");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        object.fields().forEachRemaining(e -> {
            Object raw = JSON.convertValue(e.getValue(), Object.class);
            out.put(e.getKey(), schema.key(e.getKey(), where).check(raw, where));
        });
        return out;
    }
}
