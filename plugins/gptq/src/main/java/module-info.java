/** GPTQ as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.gptq {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.gptq.GptqMethodProvider;
}
