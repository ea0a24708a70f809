package org.fmsmo.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A semantic version {@code major.minor.patch[-preRelease]}. Pre-release versions sort before
 * the release they precede; build metadata ({@code +...}) is accepted and ignored.
 *
 * @param major      non-negative
 * @param minor      non-negative
 * @param patch      non-negative
 * @param preRelease the pre-release label without the dash, or the empty string; not null
 */
@Stable(since = "1.0")
public record Version(int major, int minor, int patch, String preRelease) implements Comparable<Version> {

    private static final Pattern SEMVER =
            Pattern.compile("(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:-([0-9A-Za-z.-]+))?(?:\\+[0-9A-Za-z.-]+)?");

    /** Validates the fields. */
    public Version {
        if (major < 0 || minor < 0 || patch < 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                    "version numbers must be non-negative, found " + major + "." + minor + "." + patch);
        }
        preRelease = preRelease == null ? "" : preRelease;
    }

    /** A release version without pre-release label. */
    public static Version of(int major, int minor, int patch) {
        return new Version(major, minor, patch, "");
    }

    /**
     * Parses {@code 1}, {@code 1.2}, {@code 1.2.3}, {@code 1.2.3-rc.1} (missing parts are 0).
     * A Maven {@code -SNAPSHOT} suffix is kept as the pre-release label.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the text when it is not a version
     */
    public static Version parse(String text) {
        Matcher m = SEMVER.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT,
                    "expected a semantic version like 1.2.3, found '" + text + "'");
        }
        try {
            return new Version(Integer.parseInt(m.group(1)),
                    m.group(2) == null ? 0 : Integer.parseInt(m.group(2)),
                    m.group(3) == null ? 0 : Integer.parseInt(m.group(3)),
                    m.group(4) == null ? "" : m.group(4));
        } catch (NumberFormatException e) { // a part beyond int (found by fuzzing a plugin descriptor)
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "expected a semantic version like 1.2.3 with parts below 2^31, found '"
                    + (text.length() > 80 ? text.substring(0, 80) + "…" : text) + "'");
        }
    }

    /** Whether this version has a pre-release label. */
    public boolean isPreRelease() {
        return !preRelease.isEmpty();
    }

    @Override
    public int compareTo(Version o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) c = Integer.compare(minor, o.minor);
        if (c == 0) c = Integer.compare(patch, o.patch);
        if (c != 0) return c;
        if (preRelease.equals(o.preRelease)) return 0;
        if (preRelease.isEmpty()) return 1;   // 1.0.0 > 1.0.0-rc
        if (o.preRelease.isEmpty()) return -1;
        return preRelease.compareTo(o.preRelease);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch + (preRelease.isEmpty() ? "" : "-" + preRelease);
    }
}
