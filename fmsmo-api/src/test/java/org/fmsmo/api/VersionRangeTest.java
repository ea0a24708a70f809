package org.fmsmo.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VersionRangeTest {

    private static boolean in(String range, String version) {
        return VersionRange.parse(range).contains(Version.parse(version));
    }

    @Test
    void comparatorsAndConjunctions() {
        assertTrue(in(">=1.0.0 & <2.0.0", "1.0.0"));
        assertTrue(in(">=1.0.0 & <2.0.0", "1.99.7"));
        assertFalse(in(">=1.0.0 & <2.0.0", "2.0.0"));
        assertFalse(in(">=1.0.0 & <2.0.0", "0.9.9"));
        assertTrue(in(">= 1.2 && < 1.3", "1.2.9"));
        assertTrue(in("1.1.0", "1.4.0"), "a bare version means at least");
        assertFalse(in("=1.1.0", "1.1.1"));
        assertTrue(in("*", "0.0.1"));
    }

    @Test
    void caretTildeAndAlternatives() {
        assertTrue(in("^1.2.0", "1.9.0"));
        assertFalse(in("^1.2.0", "2.0.0"));
        assertFalse(in("^0.3.0", "0.4.0"), "caret on 0.x keeps the minor");
        assertTrue(in("~1.2.0", "1.2.5"));
        assertFalse(in("~1.2.0", "1.3.0"));
        assertTrue(in("<1.0.0 || >=3.0.0", "3.1.0"));
        assertFalse(in("<1.0.0 || >=3.0.0", "2.0.0"));
    }

    @Test
    void preReleasesSortBeforeTheirRelease() {
        assertTrue(Version.parse("1.0.0-rc.1").compareTo(Version.parse("1.0.0")) < 0);
        assertFalse(in(">=1.0.0", "1.0.0-SNAPSHOT"));
        assertEquals("0.1.0-SNAPSHOT", Version.parse("0.1.0-SNAPSHOT").toString());
    }

    @Test
    void badExpressionsNameTheBadPart() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> VersionRange.parse(">=1.0 & <two"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("'<two'"), e.getMessage());
        assertThrows(FmsmoException.class, () -> VersionRange.parse("  "));
    }
}
