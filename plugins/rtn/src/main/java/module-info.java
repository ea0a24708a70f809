/** Round-to-nearest weight quantization as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.rtn {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.rtn.RtnMethodProvider;
}
