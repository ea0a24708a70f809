/** LLM.int8-style outlier decomposition as a plugin: a method and the activation quantizer mode it wraps with; depends on the SPI only. */
module org.fmsmo.plugin.outlier {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.outlier.LlmInt8MethodProvider;
    provides org.fmsmo.api.quant.QuantizerProvider with org.fmsmo.plugin.outlier.LlmInt8QuantizerProvider;
}
