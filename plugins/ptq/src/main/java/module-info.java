/** PTQ (static calibration) quantization as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.ptq {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.ptq.PtqMethodProvider, org.fmsmo.plugin.ptq.Fp8MethodProvider;
}
