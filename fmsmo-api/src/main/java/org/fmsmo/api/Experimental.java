package org.fmsmo.api;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a type or member of the SPI that plugins may use but that may still change in a minor
 * SPI version (for example when a later architecture or method needs more of it). Changes are
 * listed in the release notes.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD})
@Stable(since = "1.0")
public @interface Experimental {
    /** The SPI version ({@code major.minor}) that introduced the element. */
    String since();
}
