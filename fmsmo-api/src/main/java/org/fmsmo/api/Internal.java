package org.fmsmo.api;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a public element that exists for fmsmo's own modules only. Plugins must not use it: it
 * can change or disappear in any release.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD})
@Stable(since = "1.0")
public @interface Internal {
    /** The SPI version ({@code major.minor}) that introduced the element. */
    String since();
}
