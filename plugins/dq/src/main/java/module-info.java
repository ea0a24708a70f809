/** SmoothQuant-style direct quantization as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.dq {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.dq.DqMethodProvider;
}
