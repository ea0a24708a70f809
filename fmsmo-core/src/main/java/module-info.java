import org.fmsmo.api.arch.ModelArchitectureProvider;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.format.CheckpointFormatProvider;
import org.fmsmo.api.quant.LayerWrapperProvider;
import org.fmsmo.api.quant.QuantMethodProvider;
import org.fmsmo.api.quant.QuantizerProvider;

/**
 * fmsmo's host: the plugin registry and loaders, the built-in quantizers and layer wrappers,
 * models, the quantize pipeline and the CLI.
 */
module org.fmsmo.core {
    requires transitive org.fmsmo.api;
    requires pf4j;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires ai.djl.tokenizers;
    requires java.management;
    requires java.desktop; // the report's plots are drawn with AWT, headless
    requires org.jfree.jfreechart;
    requires me.tongfei.progressbar;
    requires jdk.management;
    requires static osgi.core;

    exports org.fmsmo.core.analysis;
    exports org.fmsmo.core.plugin;
    exports org.fmsmo.core.model;
    exports org.fmsmo.core.calibration;
    exports org.fmsmo.core.context;
    exports org.fmsmo.core.checkpoint;
    exports org.fmsmo.core.export;
    exports org.fmsmo.core.report;
    exports org.fmsmo.core.deploy;
    exports org.fmsmo.core.training;
    exports org.fmsmo.core.cli;
    exports org.fmsmo.core.quant;
    exports org.fmsmo.core.plugin.osgi;
    exports org.fmsmo.core.io.safetensors;
    exports org.fmsmo.core.io.onnx;
    exports org.fmsmo.core.hf;
    exports org.fmsmo.core.nn;
    exports org.fmsmo.core.model.transformer;
    exports org.fmsmo.core.arch;
    exports org.fmsmo.core.model.bert;
    exports org.fmsmo.core.eval;
    exports org.fmsmo.core.recipe;
    exports org.fmsmo.core.synthetic;
    exports org.fmsmo.core.pipeline;
    exports org.fmsmo.core.io;

    opens org.fmsmo.core.cli to info.picocli;

    uses QuantMethodProvider;
    uses QuantizerProvider;
    uses LayerWrapperProvider;
    uses DeployBackendProvider;
    uses CheckpointFormatProvider;
    uses ModelArchitectureProvider;
    uses org.fmsmo.api.export.ExportFormatProvider;

    provides QuantizerProvider with
            org.fmsmo.core.quant.QuantizerModes.Pact,
            org.fmsmo.core.quant.QuantizerModes.PactPlus,
            org.fmsmo.core.quant.QuantizerModes.PactSym,
            org.fmsmo.core.quant.QuantizerModes.PactSymPlus,
            org.fmsmo.core.quant.QuantizerModes.LsqPlus,
            org.fmsmo.core.quant.QuantizerModes.PerTokenMax,
            org.fmsmo.core.quant.QuantizerModes.Fix,
            org.fmsmo.core.quant.QuantizerModes.SawbMode,
            org.fmsmo.core.quant.QuantizerModes.SawbPlus,
            org.fmsmo.core.quant.QuantizerModes.SawbPerCh,
            org.fmsmo.core.quant.QuantizerModes.SawbPlusPerCh,
            org.fmsmo.core.quant.QuantizerModes.Max,
            org.fmsmo.core.quant.QuantizerModes.MaxSym,
            org.fmsmo.core.quant.QuantizerModes.MaxPerCh,
            org.fmsmo.core.quant.QuantizerModes.MaxPerGp,
            org.fmsmo.core.quant.QuantizerModes.MinMax,
            org.fmsmo.core.quant.QuantizerModes.MinMaxPerCh,
            org.fmsmo.core.quant.QuantizerModes.MinMaxPerGp,
            org.fmsmo.core.quant.QuantizerModes.MaxFull,
            org.fmsmo.core.quant.QuantizerModes.MaxFullPerCh,
            org.fmsmo.core.quant.QuantizerModes.MaxFullPerGp,
            org.fmsmo.core.quant.QuantizerModes.Fp8E4m3Sat,
            org.fmsmo.core.quant.QuantizerModes.Fp8E5m2Sat,
            org.fmsmo.core.quant.QuantizerModes.Fp8E4m3Scale,
            org.fmsmo.core.quant.QuantizerModes.Fp8E5m2Scale,
            org.fmsmo.core.quant.QuantizerModes.Fp8E4m3ScalePerCh,
            org.fmsmo.core.quant.QuantizerModes.Fp8E5m2ScalePerCh,
            org.fmsmo.core.quant.QuantizerModes.Fp8E4m3ScalePerToken,
            org.fmsmo.core.quant.QuantizerModes.Fp8E5m2ScalePerToken;
    provides LayerWrapperProvider with org.fmsmo.core.quant.QLinear.Provider;
    provides CheckpointFormatProvider with org.fmsmo.core.checkpoint.FmsFormat.Provider;
    provides ModelArchitectureProvider with
            org.fmsmo.core.arch.Decoders.Llama,
            org.fmsmo.core.arch.Decoders.Mistral,
            org.fmsmo.core.arch.Decoders.Qwen2,
            org.fmsmo.core.arch.Decoders.Qwen3,
            org.fmsmo.core.arch.Decoders.Granite,
            org.fmsmo.core.arch.Decoders.Phi3,
            org.fmsmo.core.arch.Decoders.Gemma2,
            org.fmsmo.core.arch.Decoders.Gemma3,
            org.fmsmo.core.arch.Decoders.Mixtral,
            org.fmsmo.core.arch.Decoders.Qwen3Moe,
            org.fmsmo.core.arch.Decoders.Gpt2,
            org.fmsmo.core.arch.Encoders.Bert,
            org.fmsmo.core.arch.Encoders.Roberta,
            org.fmsmo.core.arch.Encoders.ModernBert;
}
