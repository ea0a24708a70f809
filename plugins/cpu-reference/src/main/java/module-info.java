/** The CPU reference deploy backend as a plugin: depends on the SPI only. */
module org.fmsmo.plugin.cpu {
    requires org.fmsmo.api;

    provides org.fmsmo.api.deploy.DeployBackendProvider with org.fmsmo.plugin.cpu.CpuReferenceProvider;
}
