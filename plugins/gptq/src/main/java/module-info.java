/** GPTQ as a plugin: depends on the SPI only (and the Vector API when the JVM has it). */
module org.fmsmo.plugin.gptq {
    requires org.fmsmo.api;
    requires static jdk.incubator.vector;

    provides org.fmsmo.api.quant.QuantMethodProvider with org.fmsmo.plugin.gptq.GptqMethodProvider;
}
