/** ONNX export and the onnxruntime deploy backend as a plugin: the SPI and ONNX Runtime. */
module org.fmsmo.plugin.onnx {
    requires org.fmsmo.api;
    requires com.microsoft.onnxruntime;

    provides org.fmsmo.api.export.ExportFormatProvider with org.fmsmo.plugin.onnx.OnnxFormat.Provider;
    provides org.fmsmo.api.deploy.DeployBackendProvider with org.fmsmo.plugin.onnx.OrtBackend.Provider;
}
