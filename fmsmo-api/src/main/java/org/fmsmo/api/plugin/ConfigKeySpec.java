package org.fmsmo.api.plugin;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.fmsmo.api.Experimental;

/**
 * A quantization-config key a provider reads from its {@code QuantConfig}: its name, value type,
 * allowed values and a one-line description. Providers declare theirs through
 * {@link NamedProvider#configKeys()}; the host then accepts the key in recipes, {@code --set} and
 * code exactly as a built-in one, checks its values and lists it ({@code fmsmo recipes --keys}).
 * The value a provider reads is the checked, canonical one: an {@code Integer}, {@code Double},
 * {@code Boolean}, {@code String} or {@code List<String>}.
 *
 * @param name        letters, digits and {@code _}; unique across the host's keys and all installed plugins
 * @param kind        the value type
 * @param allowed     {@link Kind#CHOICE}: the allowed values; {@link Kind#INT}: when not empty, the allowed integers
 * @param min         {@link Kind#INT} (without {@code allowed}) and {@link Kind#NUMBER}: the smallest value allowed
 * @param max         the largest value allowed, likewise
 * @param description one line for listings
 */
@Experimental(since = "1.3")
public record ConfigKeySpec(String name, Kind kind, List<String> allowed, double min, double max, String description) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");

    /** Value types a provider's key may have. */
    @Experimental(since = "1.3")
    public enum Kind {
        INT, NUMBER, BOOL, CHOICE, STRING, STRING_LIST
    }

    public ConfigKeySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("config key name '" + name + "': expected a letter, then letters, digits or _");
        }
        allowed = List.copyOf(allowed);
        if (kind == Kind.CHOICE && allowed.isEmpty()) {
            throw new IllegalArgumentException("config key " + name + ": a choice needs its allowed values");
        }
        if (!(min <= max)) {
            throw new IllegalArgumentException("config key " + name + ": min " + min + " is above max " + max);
        }
        description = description == null ? "" : description;
    }

    /** One of {@code values}. */
    public static ConfigKeySpec choice(String name, String description, String... values) {
        return new ConfigKeySpec(name, Kind.CHOICE, List.of(values), 0, 0, description);
    }

    /** An integer in {@code [min, max]}. */
    public static ConfigKeySpec integer(String name, long min, long max, String description) {
        return new ConfigKeySpec(name, Kind.INT, List.of(), min, max, description);
    }

    /** One of the integers {@code values}. */
    public static ConfigKeySpec integerOf(String name, String description, int... values) {
        return new ConfigKeySpec(name, Kind.INT, Arrays.stream(values).mapToObj(Integer::toString).toList(), 0, 0, description);
    }

    /** A number in {@code [min, max]} (NaN is refused). */
    public static ConfigKeySpec number(String name, double min, double max, String description) {
        return new ConfigKeySpec(name, Kind.NUMBER, List.of(), min, max, description);
    }

    /** {@code true} or {@code false}. */
    public static ConfigKeySpec flag(String name, String description) {
        return new ConfigKeySpec(name, Kind.BOOL, List.of(), 0, 0, description);
    }

    /** Any string. */
    public static ConfigKeySpec string(String name, String description) {
        return new ConfigKeySpec(name, Kind.STRING, List.of(), 0, 0, description);
    }

    /** A list of strings (a JSON array, or comma-separated on the command line). */
    public static ConfigKeySpec stringList(String name, String description) {
        return new ConfigKeySpec(name, Kind.STRING_LIST, List.of(), 0, 0, description);
    }
}
