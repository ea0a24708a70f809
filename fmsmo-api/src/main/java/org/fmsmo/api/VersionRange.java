package org.fmsmo.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A set of versions written as a requirement expression, the syntax a plugin uses in its
 * {@code Plugin-Requires} descriptor header (the same syntax PF4J understands):
 * <ul>
 *   <li>comparators {@code >=1.0.0}, {@code >1.0}, {@code <2.0.0}, {@code <=1.4.2}, {@code =1.0.0}
 *       (a bare version {@code 1.2.0} means {@code >=1.2.0});</li>
 *   <li>{@code ^1.2.0} (same major: {@code >=1.2.0 & <2.0.0}), {@code ~1.2.0} (same minor);</li>
 *   <li>{@code *} (any version);</li>
 *   <li>comparators joined by {@code &}, {@code &&} or a space all must hold; alternatives are
 *       joined by {@code |} or {@code ||}.</li>
 * </ul>
 * Immutable and thread-safe.
 */
@Stable(since = "1.0")
public final class VersionRange {

    private record Comparator(String op, Version version) {
        boolean test(Version v) {
            int c = v.compareTo(version);
            return switch (op) {
                case ">=" -> c >= 0;
                case ">" -> c > 0;
                case "<=" -> c <= 0;
                case "<" -> c < 0;
                default -> c == 0;
            };
        }
    }

    private final String text;
    private final List<List<Comparator>> alternatives;

    private VersionRange(String text, List<List<Comparator>> alternatives) {
        this.text = text;
        this.alternatives = alternatives;
    }

    /**
     * Parses a requirement expression.
     *
     * @param expression not null, not blank
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the expression and the bad part
     */
    public static VersionRange parse(String expression) {
        Objects.requireNonNull(expression, "expression");
        String trimmed = expression.trim();
        if (trimmed.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "expected a version requirement such as '>=1.0.0 & <2.0.0', found an empty string");
        }
        List<List<Comparator>> alternatives = new ArrayList<>();
        for (String alternative : trimmed.split("\\|\\|?")) {
            List<Comparator> all = new ArrayList<>();
            // Glue operators to their version ("> = 1.0" is not allowed, ">= 1.0" is).
            String normalised = alternative.replaceAll("(>=|<=|>|<|==|=|\\^|~)\\s+", "$1");
            for (String part : normalised.split("&&?|\\s+")) {
                if (!part.isBlank()) {
                    all.addAll(comparators(part.trim(), expression));
                }
            }
            if (all.isEmpty()) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                        "empty alternative in version requirement '" + expression + "'");
            }
            alternatives.add(List.copyOf(all));
        }
        return new VersionRange(trimmed, List.copyOf(alternatives));
    }

    private static List<Comparator> comparators(String part, String expression) {
        try {
            if (part.equals("*")) {
                return List.of(new Comparator(">=", Version.of(0, 0, 0)));
            }
            if (part.startsWith("^")) {
                Version v = Version.parse(part.substring(1));
                Version upper = v.major() > 0 ? Version.of(v.major() + 1, 0, 0) : Version.of(0, v.minor() + 1, 0);
                return List.of(new Comparator(">=", v), new Comparator("<", upper));
            }
            if (part.startsWith("~")) {
                Version v = Version.parse(part.substring(1));
                return List.of(new Comparator(">=", v), new Comparator("<", Version.of(v.major(), v.minor() + 1, 0)));
            }
            for (String op : List.of(">=", "<=", "==", ">", "<", "=")) {
                if (part.startsWith(op)) {
                    String normalisedOp = op.equals("==") ? "=" : op;
                    return List.of(new Comparator(normalisedOp, Version.parse(part.substring(op.length()))));
                }
            }
            return List.of(new Comparator(">=", Version.parse(part)));
        } catch (FmsmoException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                    "bad part '" + part + "' in version requirement '" + expression
                            + "': expected comparators such as '>=1.0.0 & <2.0.0', '^1.0' or '*'", e);
        }
    }

    /** Whether {@code version} satisfies this requirement; {@code version} not null. */
    public boolean contains(Version version) {
        Objects.requireNonNull(version, "version");
        for (List<Comparator> all : alternatives) {
            if (all.stream().allMatch(c -> c.test(version))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VersionRange r && r.alternatives.equals(alternatives);
    }

    @Override
    public int hashCode() {
        return alternatives.hashCode();
    }

    /** The expression as written (trimmed). */
    @Override
    public String toString() {
        return text;
    }
}
