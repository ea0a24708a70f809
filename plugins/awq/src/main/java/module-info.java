/** AWQ as a plugin: depends on the SPI only; awq+gptq reaches GPTQ through the host (QuantContext.stageQuantizer). */
module org.fmsmo.plugin.awq {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.awq.AwqMethodProvider, org.fmsmo.plugin.awq.AwqGptqMethodProvider;
}
