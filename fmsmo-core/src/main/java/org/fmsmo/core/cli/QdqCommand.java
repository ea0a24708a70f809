package org.fmsmo.core.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.core.io.OutputFiles;
import org.fmsmo.core.io.safetensors.Dtype;
import org.fmsmo.core.io.safetensors.SafetensorsFile;
import org.fmsmo.core.io.safetensors.SafetensorsWriter;
import org.fmsmo.core.io.safetensors.TensorData;
import org.fmsmo.core.io.safetensors.TensorInfo;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.quant.QuantizerModes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fmsmo qdq}: quantize-dequantize every float tensor of a safetensors file with one mode,
 * to see what the mode does to one's weights. Each tensor gets its own quantizer (its own clips).
 * Tensors that are not 2-D are viewed as {@code [dim0, rest]} (1-D as {@code [1, n]}) so that
 * per-channel and per-group modes apply; non-float tensors are copied unchanged.
 */
@Command(name = "qdq", description = "Apply one quantizer mode to every float tensor of a safetensors file and write the dequantized result (F32).")
final class QdqCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--mode", required = true, paramLabel = "M", description = "Quantizer mode (sawb+, maxperCh, pact+, fp8_e4m3_scale …).")
    String mode;

    @Option(names = "--bits", defaultValue = "8", paramLabel = "B", description = "Bits, 2-8 for INT modes (default: ${DEFAULT-VALUE}).")
    int bits;

    @Option(names = "--clip", paramLabel = "A", description = "Upper clip alpha (default: computed by the mode).")
    Float clip;

    @Option(names = "--clipn", paramLabel = "B", description = "Lower clip beta for asymmetric modes.")
    Float clipn;

    @Option(names = "--group", defaultValue = "128", paramLabel = "N", description = "Group size for perGp modes (default: ${DEFAULT-VALUE}).")
    int group;

    @Option(names = "--input", required = true, paramLabel = "F", description = "Input .safetensors file (not modified).")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "G", description = "Output .safetensors file (must not exist).")
    Path output;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (Files.exists(output)) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "output " + output + " exists; refusing to overwrite");
        }
        if (clipn != null && clip == null) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--clipn needs --clip");
        }
        QuantSpec qspec = QuantizerModes.specFor(mode, bits, group, RangeSource.MINMAX);
        if (mode.equals("fix") && clipn != null) {
            qspec = qspec.withSymmetric(false); // fix takes either grid; a lower clip asks for the asymmetric one
        }
        List<TensorData> tensors = new ArrayList<>();
        try (PluginRegistry registry = plugins.openRegistry(); SafetensorsFile file = SafetensorsFile.open(input);
             NDManager manager = NDManager.newBaseManager()) {
            QuantizerProvider provider = registry.get(QuantizerProvider.class, mode);
            for (TensorInfo t : file.tensors().values()) {
                if (!t.dtype().isFloat()) {
                    byte[] raw = file.bytes(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                    tensors.add(TensorData.ofBytes(t.name(), t.dtype(), t.shape(), raw));
                    continue;
                }
                try (NDManager step = manager.newSubManager(); Quantizer q = provider.create(qspec)) {
                    if (clip != null) {
                        Map<String, float[]> state = new LinkedHashMap<>();
                        state.put("clip_val", new float[] {clip});
                        if (clipn != null) {
                            state.put("clip_valn", new float[] {clipn});
                        }
                        q.loadState(state);
                    }
                    long[] shape = t.shape();
                    long rows = shape.length == 0 ? 1 : shape.length == 1 ? 1 : shape[0];
                    NDArray x = step.create(file.floats(t.name()), new Shape(rows, Math.max(1, t.elements() / Math.max(1, rows))));
                    NDArray y = q.fakeQuantize(x);
                    float[] values = y.toFloatArray();
                    double err = y.sub(x).square().sum().getFloat();
                    double norm = x.square().sum().getFloat();
                    out.printf("%-56s %-16s rel.err %.6f%n", t.name(), java.util.Arrays.toString(shape), norm == 0 ? 0 : Math.sqrt(err / norm));
                    tensors.add(TensorData.ofFloats(t.name(), Dtype.F32, shape, values));
                }
            }
        }
        Path tmp = OutputFiles.temporarySibling(output);
        try {
            SafetensorsWriter.writeFile(tmp, tensors, Map.of("format", "pt", "fmsmo_qdq", mode + "-" + qspec));
            OutputFiles.commit(tmp, output, false);
        } finally {
            OutputFiles.deleteTree(tmp);
        }
        out.printf("wrote %s (%d tensors, mode %s, spec %s)%n", output, tensors.size(), mode, qspec);
        return 0;
    }
}
