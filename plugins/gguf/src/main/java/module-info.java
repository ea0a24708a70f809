/** GGUF export and import as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.gguf {
    requires org.fmsmo.api;

    provides org.fmsmo.api.export.ExportFormatProvider with org.fmsmo.plugin.gguf.GgufFormat.Provider;
}
