/** The compressed-tensors and GPTQ checkpoint formats as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.ct {
    requires org.fmsmo.api;

    provides org.fmsmo.api.format.CheckpointFormatProvider with
            org.fmsmo.plugin.ct.CompressedTensorsFormat.Provider,
            org.fmsmo.plugin.ct.GptqFormat.Provider;
}
