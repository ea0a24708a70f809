package org.fmsmo.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.jar.Manifest;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.format.CheckpointFormat;
import org.fmsmo.api.format.CheckpointSource;
import org.fmsmo.api.format.StoredTensor;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.core.hf.HfConfig;
import org.fmsmo.core.hf.HfTokenizer;
import org.fmsmo.core.io.onnx.OnnxModel;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.recipe.Recipes;
import org.fmsmo.plugin.ct.CompressedTensorsFormat;
import org.fmsmo.plugin.ct.GptqFormat;
import org.fmsmo.plugin.gguf.GgufFormat;

/**
 * One fuzz target per input parser: the safetensors header, {@code config.json}, recipes, ONNX
 * protobuf, the compressed-tensors and GPTQ checkpoint readers, the GGUF reader, and plugin descriptors. The
 * contract each checks: any input either parses or is refused with an {@link FmsmoException}
 * (which the CLI prints as one {@code error:} line); any other exception or error is a finding.
 *
 * <p>Under {@code mvn verify} each target replays its inputs in {@code ParsersFuzzTestInputs/}
 * (valid seeds and every finding, committed as regression cases). {@code fuzz/run.sh [seconds]}
 * fuzzes each target for that long.
 */
class ParsersFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void safetensorsHeader(byte[] data) throws IOException {
        parse(data, "model.safetensors", f -> {
            try (SafetensorsFile s = SafetensorsFile.open(f)) {
                for (String n : s.tensors().keySet()) {
                    s.bytes(n);
                    if (s.info(n).dtype().name().startsWith("F") || s.info(n).dtype().name().equals("BF16")) {
                        s.floats(n);
                    }
                }
            }
        });
    }

    /** The built-in architectures (the application's providers); plugin-free otherwise. */
    private static final org.fmsmo.core.plugin.PluginRegistry REGISTRY = org.fmsmo.core.plugin.PluginRegistry.standard(null);

    @FuzzTest(maxDuration = "30s")
    void configJson(byte[] data) throws IOException {
        parse(data, HfConfig.FILE, f -> {
            // every installed architecture's reading, and the rotary tables a decoder's would build
            HfConfig config = HfConfig.read(f.getParent());
            if (new org.fmsmo.core.checkpoint.ModelLoader(REGISTRY).describe(config) instanceof org.fmsmo.api.arch.TransformerSpec d) {
                d.layers().stream().filter(l -> l.rope() != null)
                        .forEach(l -> org.fmsmo.core.nn.RotaryEmbedding.inverseFrequencies(l.rope(), d.headDim(), config));
            }
        });
    }

    @FuzzTest(maxDuration = "30s")
    void recipe(byte[] data) throws IOException {
        parse(data, "recipe.json", f -> Recipes.qconfigInit(f.toString(), Map.of()));
    }

    @FuzzTest(maxDuration = "30s")
    void onnxModel(byte[] data) throws IOException {
        parse(data, "model.onnx", OnnxModel::open);
    }

    /** The checkpoint's tensors are the input; the quantization_config is a valid W4 group-8 one. */
    @FuzzTest(maxDuration = "30s")
    void compressedTensorsReader(byte[] data) throws IOException {
        readCheckpoint(data, new CompressedTensorsFormat(), Map.of("quant_method", "compressed-tensors", "format", "pack-quantized", "config_groups", Map.of("group_0", Map.of(
                "targets", java.util.List.of("Linear"), "weights", Map.of("num_bits", 4, "type", "int", "symmetric", true, "strategy", "group",
                        "group_size", 8)))));
    }

    @FuzzTest(maxDuration = "30s")
    void gptqReader(byte[] data) throws IOException {
        readCheckpoint(data, new GptqFormat(), Map.of("quant_method", "gptq", "bits", 4, "group_size", 8, "sym", true, "desc_act", false));
    }

    /**
     * tokenizer.json through the native Hugging Face library: loaded, used on a sentence, closed.
     * A parse error the library panics on aborts the whole JVM, which the fuzzer reports as a crash:
     * the Java check in front of it ({@code TokenizerJsonCheck}) must refuse such files first.
     */
    @FuzzTest(maxDuration = "30s")
    void tokenizerJson(byte[] data) throws IOException {
        parse(data, "tokenizer.json", f -> {
            try (HfTokenizer t = HfTokenizer.openFile(f)) {
                t.decode(t.encode("a b, abc 123 ab", true));
            }
        });
    }

    /** A GGUF file through the gguf plugin's reader: header, metadata, every tensor decoded, config and tokenizer rebuilt. */
    @FuzzTest(maxDuration = "30s")
    void ggufReader(byte[] data) throws IOException {
        parse(data, "model.gguf", f -> new GgufFormat().read(f));
    }

    @FuzzTest(maxDuration = "30s")
    void pluginManifest(byte[] data) {
        try {
            PluginDescriptor.fromManifest(new Manifest(new ByteArrayInputStream(data)), "fuzz");
        } catch (IOException | FmsmoException refused) {
            // the JDK's Manifest refuses some inputs with IOException: PluginManifests reports those as a skipped plugin
        }
    }

    private static void readCheckpoint(byte[] data, CheckpointFormat format, Map<String, Object> qc) throws IOException {
        parse(data, "model.safetensors", f -> {
            try (SafetensorsFile s = SafetensorsFile.open(f)) {
                CheckpointSource source = new CheckpointSource() {
                    @Override
                    public String location() {
                        return f.toString();
                    }

                    @Override
                    public Map<String, Object> quantizationConfig() {
                        return qc;
                    }

                    @Override
                    public Set<String> names() {
                        return s.tensors().keySet();
                    }

                    @Override
                    public StoredTensor tensor(String name) {
                        TensorInfo i = s.info(name);
                        return new StoredTensor(i.dtype().name(), i.shape(), s.bytes(name).asByteBuffer());
                    }
                };
                format.read(source);
                format.inputQuantization(source);
            }
        });
    }

    /** A parser run on a file holding the fuzzer's bytes. */
    @FunctionalInterface
    private interface Parser {
        void parse(Path file) throws IOException;
    }

    /**
     * Writes {@code data} as {@code name} in a fresh temporary folder and runs {@code parser} on it:
     * a refusal ({@link FmsmoException}) is the right answer to a bad file; anything else thrown
     * is a finding. The folder is removed afterwards.
     */
    private static void parse(byte[] data, String name, Parser parser) throws IOException {
        Path dir = Files.createTempDirectory("fuzz");
        Path file = dir.resolve(name);
        try {
            Files.write(file, data);
            parser.parse(file);
        } catch (FmsmoException refused) {
            // expected for most inputs
        } finally {
            Files.deleteIfExists(file);
            Files.delete(dir);
        }
    }
}
