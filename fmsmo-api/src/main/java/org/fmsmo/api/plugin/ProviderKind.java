package org.fmsmo.api.plugin;

import org.fmsmo.api.Stable;
import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.export.ExportFormatProvider;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.quant.LayerWrapperProvider;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantizerProvider;

/**
 * The extension points of the SPI. A plugin jar lists its providers under
 * {@code META-INF/services/<serviceType>} and in {@code module-info} ({@code provides}).
 */
@Stable(since = "1.0")
public enum ProviderKind {
    /** A quantization technique ({@code rtn}, {@code gptq}, {@code qat}). */
    QUANT_METHOD("quant-method", QuantMethodProvider.class),
    /** A quantizer mode ({@code max}, {@code pact+}, {@code fp8_e4m3_scale}). */
    QUANTIZER("quantizer", QuantizerProvider.class),
    /** A layer wrapper ({@code qlinear}, {@code qbmm}). */
    LAYER_WRAPPER("layer-wrapper", LayerWrapperProvider.class),
    /** A backend that executes quantized layers ({@code cpu-reference}, {@code cuda-int8}). */
    DEPLOY_BACKEND("deploy-backend", DeployBackendProvider.class),
    /** A checkpoint format ({@code compressed-tensors}, {@code gptq}). */
    CHECKPOINT_FORMAT("checkpoint-format", CheckpointFormatProvider.class),
    /** A model architecture ({@code llama}, {@code gemma2}, {@code bert}), found by the {@code model_type} it reads. */
    MODEL_ARCHITECTURE("architecture", ModelArchitectureProvider.class),
    /** A one-file model format for another runtime ({@code gguf}), found by name to write and by file extension to read. */
    EXPORT_FORMAT("export-format", ExportFormatProvider.class);

    private final String label;
    private final Class<? extends NamedProvider> serviceType;

    ProviderKind(String label, Class<? extends NamedProvider> serviceType) {
        this.label = label;
        this.serviceType = serviceType;
    }

    /** The kind's name in listings and error messages, e.g. {@code quant-method}. */
    public String label() {
        return label;
    }

    /** The service interface providers of this kind implement. */
    public Class<? extends NamedProvider> serviceType() {
        return serviceType;
    }
}
