package org.fmsmo.api.quant;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.Stable;

/**
 * The settings of a quantization run in the {@code qconfig_init} style: flat keys such as
 * {@code nbits_w}, {@code qw_mode}, {@code qskip_layer_name}, with values that are strings,
 * numbers, booleans or lists of those. Recipes fill the defaults; users override keys. Immutable.
 *
 * @param settings not null; keys not blank; values not null; copied (iteration order kept)
 */
@Stable(since = "1.0")
public record QuantConfig(Map<String, Object> settings) {

    /** Copies and validates. */
    public QuantConfig {
        Objects.requireNonNull(settings, "settings");
        Map<String, Object> copy = new LinkedHashMap<>();
        settings.forEach((k, v) -> {
            if (k == null || k.isBlank()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "QuantConfig: blank key (value " + v + ")");
            }
            if (v == null) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "QuantConfig: key '" + k + "' has no value");
            }
            copy.put(k, v instanceof List<?> l ? List.copyOf(l) : v);
        });
        settings = java.util.Collections.unmodifiableMap(copy);
    }

    /** An empty config. */
    public static QuantConfig empty() {
        return new QuantConfig(Map.of());
    }

    /** This config with {@code key} set to {@code value} (replacing any earlier value). */
    public QuantConfig with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(settings);
        m.put(key, value);
        return new QuantConfig(m);
    }

    /** The raw value of a key. */
    public Optional<Object> get(String key) {
        return Optional.ofNullable(settings.get(key));
    }

    /**
     * An integer setting. Strings holding integers are accepted.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the key and the bad value
     */
    public int getInt(String key, int defaultValue) {
        Object v = settings.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return n.intValue();
        }
        try {
            return Integer.parseInt(v.toString().trim());
        } catch (NumberFormatException e) {
            throw bad(key, v, "an integer");
        }
    }

    /** A number setting; strings holding numbers are accepted. */
    public double getDouble(String key, double defaultValue) {
        Object v = settings.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(v.toString().trim());
        } catch (NumberFormatException e) {
            throw bad(key, v, "a number");
        }
    }

    /** A boolean setting; the strings {@code true}/{@code false} are accepted. */
    public boolean getBoolean(String key, boolean defaultValue) {
        Object v = settings.get(key);
        if (v == null) {
            return defaultValue;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        return switch (v.toString().trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw bad(key, v, "true or false");
        };
    }

    /** A string setting (any value's text form). */
    public String getString(String key, String defaultValue) {
        Object v = settings.get(key);
        return v == null ? defaultValue : v.toString();
    }

    /** A list-of-strings setting; a single value is read as a one-element list, a comma-separated string as a list. */
    public List<String> getStringList(String key) {
        Object v = settings.get(key);
        if (v == null) {
            return List.of();
        }
        if (v instanceof List<?> l) {
            return l.stream().map(Object::toString).toList();
        }
        return java.util.Arrays.stream(v.toString().split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    private static FmsmoException bad(String key, Object value, String expected) {
        return new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                "config key '" + key + "': expected " + expected + ", found '" + value + "'");
    }
}
