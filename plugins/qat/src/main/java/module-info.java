/** Quantization-aware training as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.qat {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.qat.QatMethodProvider;
}
