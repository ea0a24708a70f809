package org.fmsmo.core.recipe;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.ConfigKeySpec;

/**
 * One {@code qconfig_init} key: its type and the values it allows, and who declared it (the host,
 * or a plugin through {@link ConfigKeySpec}). {@link #check} turns a raw value (from JSON, a CLI
 * override or code) into the canonical form stored in the config, or explains what was expected.
 *
 * @param allowed for {@link Kind#CHOICE}: the allowed values; for {@link Kind#INT} (when not empty):
 *                the allowed integers as strings
 * @param owner   {@link #HOST} or the id of the plugin whose provider declared it
 */
public record ConfigKey(String name, Kind kind, List<String> allowed, double min, double max, String description, String owner) {

    /** The owner of the host's own keys. */
    public static final String HOST = "fmsmo";

    /** Value types. */
    public enum Kind {
        INT, NUMBER, BOOL, CHOICE, STRING, STRING_LIST, LAYER_OVERRIDES
    }

    static ConfigKey choice(String name, String description, String... allowed) {
        return new ConfigKey(name, Kind.CHOICE, List.of(allowed), 0, 0, description, HOST);
    }

    static ConfigKey ints(String name, String description, int... allowed) {
        return new ConfigKey(name, Kind.INT, java.util.Arrays.stream(allowed).mapToObj(Integer::toString).toList(), 0, 0, description, HOST);
    }

    static ConfigKey range(String name, Kind kind, double min, double max, String description) {
        return new ConfigKey(name, kind, List.of(), min, max, description, HOST);
    }

    static ConfigKey of(String name, Kind kind, String description) {
        return new ConfigKey(name, kind, List.of(), 0, 0, description, HOST);
    }

    /** A plugin's key. */
    static ConfigKey of(ConfigKeySpec spec, String owner) {
        return new ConfigKey(spec.name(), Kind.valueOf(spec.kind().name()), spec.allowed(), spec.min(), spec.max(), spec.description(), owner);
    }

    /** Whether {@code other} declares the same key (two providers of one plugin may both read it). */
    boolean sameAs(ConfigKey other) {
        return name.equals(other.name) && kind == other.kind && allowed.equals(other.allowed) && min == other.min && max == other.max;
    }

    /**
     * @return the canonical value: Integer, Double, Boolean, String, List of String, or a map of
     *         layer name to override map
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the key, the value and what is allowed
     */
    public Object check(Object value, String where) {
        return switch (kind) {
            case INT -> {
                Integer i = asInt(value);
                if (i == null || (!allowed.isEmpty() && !allowed.contains(i.toString())) || (allowed.isEmpty() && (i < min || i > max))) {
                    throw bad(value, where, allowed.isEmpty() ? "an integer in [" + (long) min + ", " + (long) max + "]" : "one of " + allowed);
                }
                yield i;
            }
            case NUMBER -> {
                Double d = asDouble(value);
                if (d == null || !(d >= min && d <= max)) { // NaN fails every comparison: refuse it by asking for the range
                    throw bad(value, where, "a number in [" + min + ", " + max + "]");
                }
                yield d;
            }
            case BOOL -> {
                String s = String.valueOf(value).trim().toLowerCase(Locale.ROOT);
                if (!(value instanceof Boolean) && !s.equals("true") && !s.equals("false")) {
                    throw bad(value, where, "true or false");
                }
                yield value instanceof Boolean b ? b : Boolean.parseBoolean(s);
            }
            case CHOICE -> {
                String s = String.valueOf(value).trim();
                if (!allowed.contains(s)) {
                    throw bad(value, where, "one of " + allowed);
                }
                yield s;
            }
            case STRING -> {
                if (value instanceof Map<?, ?> || value instanceof List<?>) {
                    throw bad(value, where, "a string");
                }
                yield String.valueOf(value);
            }
            case STRING_LIST -> {
                if (value instanceof List<?> l) {
                    yield l.stream().map(String::valueOf).toList();
                }
                if (value instanceof Map<?, ?>) {
                    throw bad(value, where, "a list of names");
                }
                yield java.util.Arrays.stream(String.valueOf(value).split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
            }
            case LAYER_OVERRIDES -> {
                if (!(value instanceof Map<?, ?> m)) {
                    throw bad(value, where, "an object of layer name → {key: value} overrides");
                }
                Map<String, Object> out = new java.util.LinkedHashMap<>();
                m.forEach((layer, o) -> {
                    if (!(o instanceof Map<?, ?> overrides)) {
                        throw bad(value, where, "an object of layer name → {key: value} overrides");
                    }
                    Map<String, Object> checked = new java.util.LinkedHashMap<>();
                    overrides.forEach((k, v) -> {
                        // per-layer overrides are host keys only (PER_LAYER)
                        ConfigKey key = ConfigSchema.core().key(String.valueOf(k), where + ", " + name + "." + layer);
                        if (!ConfigSchema.PER_LAYER.contains(key.name())) {
                            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, where + ": " + name + "." + layer + " may override "
                                    + ConfigSchema.PER_LAYER + ", not '" + k + "'");
                        }
                        checked.put(key.name(), key.check(v, where + ", " + name + "." + layer));
                    });
                    out.put(String.valueOf(layer), java.util.Collections.unmodifiableMap(checked));
                });
                yield java.util.Collections.unmodifiableMap(out);
            }
        };
    }

    private static Integer asInt(Object v) {
        if (v instanceof Number n) {
            return n.doubleValue() == Math.rint(n.doubleValue()) ? n.intValue() : null;
        }
        try {
            return Integer.parseInt(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Double asDouble(Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private FmsmoException bad(Object value, String where, String expected) {
        return new FmsmoException(ErrorCode.INVALID_ARGUMENT, where + ": '" + name + "' must be " + expected + ", found '" + value + "'");
    }
}
