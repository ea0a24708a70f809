package org.fmsmo.core.plugin;

/** How a plugin reached the registry. */
public enum PluginSource {
    /** Part of fmsmo itself (providers in {@code org.fmsmo.*} packages on the application's module or class path). */
    BUILT_IN("built-in"),
    /** A named module on the application's module path ({@code provides ... with ...}). */
    MODULE_PATH("module path"),
    /** A jar on the application's class path ({@code META-INF/services}). */
    CLASS_PATH("class path"),
    /** A jar or folder in a plugins directory, loaded through PF4J in its own class loader. */
    PLUGINS_DIR("plugins dir"),
    /** A bundle in an OSGi framework, through the OSGi service registry. */
    OSGI("OSGi");

    private final String label;

    PluginSource(String label) {
        this.label = label;
    }

    /** The name shown in listings and JSON ({@code plugins dir}). */
    public String label() {
        return label;
    }
}
