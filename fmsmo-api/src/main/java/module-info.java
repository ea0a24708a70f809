/**
 * The fmsmo SPI: what a quantization method, quantizer, layer wrapper, deploy backend, checkpoint
 * format, export format or model architecture implements, and the value types they exchange. Depends only on the JDK and DJL's API.
 */
module org.fmsmo.api {
    requires transitive ai.djl.api;

    exports org.fmsmo.api;
    exports org.fmsmo.api.arch;
    exports org.fmsmo.api.deploy;
    exports org.fmsmo.api.export;
    exports org.fmsmo.api.format;
    exports org.fmsmo.api.model;
    exports org.fmsmo.api.plugin;
    exports org.fmsmo.api.quant;
}
