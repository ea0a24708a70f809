/** ONNX export as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.onnx {
    requires org.fmsmo.api;

    provides org.fmsmo.api.export.ExportFormatProvider with org.fmsmo.plugin.onnx.OnnxFormat.Provider;
}
