package org.fmsmo.core.export;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.ModelConfig;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.export.ExportFormatProvider;
import org.fmsmo.api.export.ExportModel;
import org.fmsmo.api.export.ExportSource;
import org.fmsmo.api.export.ImportedModel;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.LayerWrapper;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.nn.NativeMemory;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.RegisteredProvider;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.recipe.ConfigSchema;

/**
 * The host side of {@link ExportFormat} plugins: shows a loaded model to a format as an
 * {@link ExportSource} and commits the file it writes atomically; finds the format that reads a
 * file by its extension, and turns what it read into a Hugging Face folder the loader opens.
 */
public final class Exports {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Exports() {
    }

    /** The export format of this name in {@code plugins}. */
    public static ExportFormat format(PluginRegistry plugins, String name) {
        return plugins.get(ExportFormatProvider.class, name).create();
    }

    /**
     * Checks {@code --set} options against the keys the named format's plugin declares: unknown
     * keys and keys of other plugins are refused, values are checked and made canonical.
     */
    public static QuantConfig options(PluginRegistry plugins, String formatName, Map<String, String> set) {
        String owner = null;
        for (RegisteredProvider<ExportFormatProvider> r : plugins.providers(ExportFormatProvider.class)) {
            if (r.provider().name().equals(formatName)) {
                owner = r.plugin().id();
            }
        }
        ConfigSchema schema = ConfigSchema.of(plugins);
        Map<String, Object> settings = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : set.entrySet()) {
            var key = schema.key(e.getKey(), "--set");
            if (!key.owner().equals(owner)) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--set " + e.getKey() + ": the key belongs to "
                        + (key.owner().equals(org.fmsmo.core.recipe.ConfigKey.HOST) ? "quantization" : "plugin '" + key.owner() + "'")
                        + ", not to export format '" + formatName + "'");
            }
            settings.put(e.getKey(), key.check(e.getValue(), "--set " + e.getKey()));
        }
        return new QuantConfig(settings);
    }

    /**
     * Checks that {@code model} can be exported, then writes it in {@code format} to {@code out}
     * (which must not exist): one file, or a folder with {@code model.<extension>} and the model's
     * companion files when the format {@link ExportFormat#writesFolder writes a folder}; through a
     * hidden temporary renamed into place, so an interrupted or failed export leaves nothing.
     */
    public static Path export(TransformerModel model, ArchitectureSpec spec, ExportFormat format, QuantConfig options, Path out, ProgressListener progress) {
        if (Files.exists(out)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output " + out + " already exists; choose a new " + (format.writesFolder() ? "folder" : "file"));
        }
        for (LinearLayer l : model.linearLayers()) {
            LinearLayer inner = l instanceof LayerWrapper w ? w.wrapped() : l;
            if (inner instanceof Linear plain && plain.runTimeInputTransform() != null) {
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "layer " + l.name() + " " + plain.runTimeInputTransform() + ", which an exported"
                        + " model cannot hold; quantize with smoothq_fold_only=true or smoothq=false, and rotate offline only (--rotate)");
            }
        }
        Path tmp = OutputFiles.temporarySibling(out);
        List<FileChannel> companions = new ArrayList<>();
        Source source = new Source(model, spec, options, progress, format.writesFolder() ? tmp : null, companions);
        format.check(source);
        try {
            Path file = tmp;
            if (format.writesFolder()) {
                Files.createDirectories(tmp);
                file = tmp.resolve("model." + format.extension());
                Files.copy(model.dir().resolve("config.json"), tmp.resolve("config.json"));
                for (String f : org.fmsmo.core.checkpoint.ModelWriter.COMPANION_FILES) {
                    if (Files.isRegularFile(model.dir().resolve(f))) {
                        Files.createDirectories(tmp.resolve(f).getParent());
                        Files.copy(model.dir().resolve(f), tmp.resolve(f));
                    }
                }
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                format.write(source, ch);
                ch.force(true);
            }
            for (FileChannel c : companions) { // on disk and closed before the folder is renamed into place
                c.force(true);
                c.close();
            }
            OutputFiles.commit(tmp, out, false);
            return out;
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            for (FileChannel c : companions) {
                try {
                    c.close(); // a no-op when closed above
                } catch (IOException ignored) {
                    // the folder is committed or deleted either way
                }
            }
            OutputFiles.deleteTree(tmp);
        }
    }

    /** The export format that reads {@code file}, by its extension; empty when none installed does. */
    public static Optional<ExportFormat> reader(Path file, PluginRegistry plugins) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        if (dot < 0) {
            return Optional.empty();
        }
        String ext = n.substring(dot + 1);
        for (RegisteredProvider<ExportFormatProvider> r : plugins.providers(ExportFormatProvider.class)) {
            ExportFormat f = r.provider().create();
            if (f.extension().equals(ext)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }

    /**
     * Reads an exported file with {@code format} into a new Hugging Face folder {@code dir}
     * ({@code config.json}, {@code model.safetensors}, the companion files), which the loader
     * then opens like any other.
     */
    public static Path importTo(Path file, ExportFormat format, Path dir) {
        ImportedModel m = format.read(file);
        List<TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, StoredTensor> e : m.tensors().entrySet()) {
            StoredTensor t = e.getValue();
            java.nio.ByteBuffer b = t.bytes();
            byte[] raw = new byte[b.remaining()];
            b.get(raw);
            tensors.add(TensorData.ofBytes(e.getKey(), Dtype.parse(t.dtype(), e.getKey()), t.shape(), raw));
        }
        Map<String, String> text = new LinkedHashMap<>();
        try {
            text.put("config.json", JSON.writeValueAsString(m.config()));
            for (Map.Entry<String, Map<String, Object>> e : m.jsonFiles().entrySet()) {
                text.put(e.getKey(), JSON.writeValueAsString(e.getValue()));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return SafetensorsWriter.writeModel(dir, tensors, Map.of("format", "pt"), Long.MAX_VALUE, Map.of(), text);
    }

    /**
     * Has {@code format} check the model folder {@code dir} from its config, architecture, options
     * and files alone, before its weights are loaded ({@link ExportFormat#checkBeforeLoading}): a
     * model the format cannot hold is refused in a second, not after loading many GB.
     */
    public static void checkBeforeLoading(Path dir, ModelConfig config, ArchitectureSpec spec, ExportFormat format, QuantConfig options) {
        format.checkBeforeLoading(new Described(dir, config, spec, options));
    }

    /** A model folder as described by its config, its weights not loaded. */
    private record Described(Path dir, ModelConfig config, ArchitectureSpec architecture, QuantConfig options) implements ExportModel {
        @Override
        public String location() {
            return dir.toString();
        }

        @Override
        public Optional<Map<String, Object>> jsonFile(String name) {
            return readJson(dir, name);
        }
    }

    private static Optional<Map<String, Object>> readJson(Path dir, String name) {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(f.toFile(), new TypeReference<LinkedHashMap<String, Object>>() { }));
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.CORRUPT_INPUT, f + ": not a JSON object: " + e.getMessage(), e);
        }
    }

    /** A loaded model as the format sees it. */
    private static final class Source implements ExportSource {
        private final TransformerModel model;
        private final ArchitectureSpec spec;
        private final QuantConfig options;
        private final ProgressListener progress;
        private final Path folder;
        private final List<FileChannel> companions;

        /**
         * @param folder     the export's (temporary) folder, for {@link #companionFile}; null for a one-file format
         * @param companions where the files made by {@link #companionFile} are listed, for the host to close
         */
        Source(TransformerModel model, ArchitectureSpec spec, QuantConfig options, ProgressListener progress, Path folder, List<FileChannel> companions) {
            this.model = model;
            this.spec = spec;
            this.options = options;
            this.progress = progress;
            this.folder = folder;
            this.companions = companions;
        }

        @Override
        public String location() {
            return model.dir().toString();
        }

        @Override
        public ModelConfig config() {
            return model.config();
        }

        @Override
        public ArchitectureSpec architecture() {
            return spec;
        }

        @Override
        public QuantConfig options() {
            return options;
        }

        @Override
        public List<String> parameterNames() {
            return List.copyOf(model.parameters().keySet());
        }

        @Override
        public long[] shape(String name) {
            return parameter(name).getShape().getShape();
        }

        private ai.djl.ndarray.NDArray parameter(String name) {
            ai.djl.ndarray.NDArray a = model.parameters().get(name);
            if (a == null) {
                throw new IllegalArgumentException("no parameter " + name + " in " + model.dir());
            }
            return a;
        }

        @Override
        public float[] floats(String name) {
            if (name.endsWith(".weight")) {
                Optional<QuantizedTensor> codes = codes(name.substring(0, name.length() - ".weight".length()));
                if (codes.isPresent()) {
                    try (ai.djl.ndarray.NDArray w = codes.get().dequantize()) {
                        return w.toFloatArray();
                    }
                }
            }
            return NativeMemory.toFloats(parameter(name));
        }

        @Override
        public Optional<QuantizedTensor> codes(String layer) {
            LinearLayer l;
            try {
                l = model.linear(layer);
            } catch (RuntimeException notALinear) {
                return Optional.empty();
            }
            return l instanceof QLinear q && q.isFrozen() ? Optional.of(q.frozenWeight()) : Optional.empty();
        }

        @Override
        public Optional<org.fmsmo.api.format.InputQuantization> inputQuantization(String layer) {
            LinearLayer l;
            try {
                l = model.linear(layer);
            } catch (RuntimeException notALinear) {
                return Optional.empty();
            }
            // a dynamic quantizer brings its own scale per input; a static one's is its calibrated state, which formats read as the spec's
            if (l instanceof QLinear q) {
                return q.inputQuantizer().map(iq -> new org.fmsmo.api.format.InputQuantization(iq.spec(), null));
            }
            if (l instanceof org.fmsmo.core.quant.InputQuantizedLinear iq) {
                return Optional.of(new org.fmsmo.api.format.InputQuantization(iq.inputQuantizer().spec(), null));
            }
            return Optional.empty();
        }

        @Override
        public Optional<org.fmsmo.api.deploy.FrozenLinear> frozenLayer(String layer) {
            LinearLayer l;
            try {
                l = model.linear(layer);
            } catch (RuntimeException notALinear) {
                return Optional.empty();
            }
            if (!(l instanceof QLinear q) || !q.isFrozen()) {
                return Optional.empty();
            }
            boolean uncalibrated = q.inputQuantizer().map(iq -> iq.spec().granularity() != org.fmsmo.api.quant.Granularity.TOKEN && iq.state().isEmpty())
                    .orElse(false);
            if (uncalibrated) { // a static input spec never calibrated takes each input's own range: no scale to export
                throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "layer " + layer + "'s input quantizer (" + q.inputQuantizer().get().spec()
                        + ") was never calibrated, so it has no static scale to export; quantize with a method that calibrates inputs (ptq, dq)");
            }
            return Optional.of(org.fmsmo.core.deploy.Deployment.frozen(q, model.manager()));
        }

        @Override
        public Optional<Map<String, Object>> jsonFile(String name) {
            return readJson(model.dir(), name);
        }

        @Override
        public ProgressListener progress() {
            return progress;
        }

        @Override
        public java.nio.channels.WritableByteChannel companionFile(String name) {
            if (folder == null) {
                throw new UnsupportedOperationException("a format that writes one file keeps no file beside it; asked for " + name);
            }
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || Files.exists(folder.resolve(name))) {
                throw new IllegalArgumentException("companion file '" + name + "': expected a new plain file name (letters, digits, . _ -)");
            }
            try {
                FileChannel c = FileChannel.open(folder.resolve(name), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                companions.add(c);
                return c;
            } catch (IOException e) {
                throw new FmsmoException(ErrorCode.IO_ERROR, "cannot create " + folder.resolve(name) + ": " + e.getMessage(), e);
            }
        }
    }
}
