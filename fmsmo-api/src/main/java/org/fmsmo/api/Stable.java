package org.fmsmo.api;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a type or member of the SPI whose signature and contract stay compatible for every SPI
 * version with the same major number. Plugins may rely on it.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR, ElementType.FIELD})
@Stable(since = "1.0")
public @interface Stable {
    /** The SPI version ({@code major.minor}) that introduced the element at this level. */
    String since();
}
