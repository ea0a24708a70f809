/** The CPU reference deploy backend as a plugin: depends on the SPI only (the Vector API when the JVM has it). */
module org.fmsmo.plugin.cpu {
    requires org.fmsmo.api;
    requires static jdk.incubator.vector;

    provides org.fmsmo.api.deploy.DeployBackendProvider with org.fmsmo.plugin.cpu.CpuReferenceProvider;
}
