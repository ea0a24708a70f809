package org.fmsmo.core.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.export.Exports;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.plugin.PluginRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo export}: a model folder, float or quantized, as one file for another runtime (GGUF for llama.cpp). */
@Command(name = "export", description = {
        "Export a model for another runtime: GGUF for llama.cpp, ONNX for ONNX Runtime.",
        "The model is a folder, float or quantized (the fms format keeps a method's codes where the target can hold them).",
        "--format gguf writes one file (--set gguf_type=q4_0 …); --format onnx a folder with the tokenizer. Written atomically."})
final class ExportCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face model folder (float, or written by fmsmo quantize).")
    Path model;

    @Option(names = "--format", defaultValue = "gguf", paramLabel = "F", description = "Export format plugin (default: ${DEFAULT-VALUE}); see fmsmo plugins.")
    String format;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "The format's options, e.g. --set gguf_type=q4_k (see fmsmo recipes --keys).")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--output", required = true, paramLabel = "PATH", description = "New file to write, its name ending in the format's extension (.gguf);"
            + " or new folder, for formats that write one (onnx: model.onnx with the tokenizer and config).")
    Path output;

    @picocli.CommandLine.Mixin
    PluginOptions plugins;

    @picocli.CommandLine.Mixin
    ProgressOptions progressOptions;

    @Override
    public Integer call() {
        try (PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            ExportFormat f = Exports.format(registry, format);
            QuantConfig options = Exports.options(registry, format, set);
            if (!f.writesFolder() && !output.getFileName().toString().endsWith("." + f.extension())) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--output " + output + ": a " + format + " file's name ends in ." + f.extension()
                        + ", which is how fmsmo eval finds its reader");
            }
            Path parent = output.toAbsolutePath().getParent();
            if (!Files.isDirectory(parent)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--output " + output + ": folder " + parent + " does not exist");
            }
            if (Files.exists(output)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--output " + output + " already exists; choose a new file");
            }
            if (!Files.isRegularFile(model.resolve(HfConfig.FILE))) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--model " + model + ": expected a model folder with " + HfConfig.FILE);
            }
            ModelLoader loader = new ModelLoader(registry);
            HfConfig config = HfConfig.read(model);
            var architecture = loader.describe(config);
            Exports.checkBeforeLoading(model, config, architecture, f, options); // in a second, before minutes of loading
            org.fmsmo.api.quant.ProgressListener progress = progressOptions.listener(spec.commandLine().getErr());
            try (TransformerModel m = loader.load(model, false)) {
                Path out = Exports.export(m, architecture, f, options, output, progress);
                Path written = f.writesFolder() ? out.resolve("model." + f.extension()) : out;
                spec.commandLine().getOut().printf("wrote %s (%,d bytes)%n", written, Files.size(written));
            } catch (java.io.IOException e) {
                throw new FmsmoException(ErrorCode.IO_ERROR, "cannot read the size of " + output + ": " + e.getMessage(), e);
            }
        }
        return 0;
    }
}
