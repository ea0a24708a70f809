/**
 * Cross-module tests, and an application that embeds fmsmo on the module path (launched by the
 * tests with {@code java --module-path}).
 */
module org.fmsmo.tests {
    requires org.fmsmo.core;

    exports org.fmsmo.tests.embed;
}
