package org.fmsmo.plugin.onnx;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.export.ExportFormatProvider;
import org.fmsmo.api.export.ExportModel;
import org.fmsmo.api.export.ExportSource;

/**
 * BERT encoders ({@link BertGraph}) and Llama-family decoders ({@link LlamaGraph}) as ONNX graphs
 * that ONNX Runtime runs: integer W8A8 layers ({@code MatMulInteger} on per-token dynamic inputs),
 * W4 layers ({@code MatMulNBits}), FP8 e4m3 layers (QDQ with {@code float8e4m3fn}) and float ones, from the quantized model's own computation. The graph is written by
 * this plugin's own protobuf writer ({@link Proto}): the plugin depends on the SPI alone, and the
 * few message types of {@code onnx.proto} it needs do not justify a protobuf runtime and
 * generated classes in every host.
 */
public final class OnnxFormat implements ExportFormat {

    private static final System.Logger LOG = System.getLogger(OnnxFormat.class.getName());

    /** Where the initializers go (tensors of 1 KB and more), or whether they stay in the graph. */
    public static final String EXTERNAL_KEY = "onnx_external_data";

    /** The external data file, beside {@code model.onnx}, as Hugging Face Optimum names it. */
    static final String DATA_FILE = "model.onnx_data";

    @Override
    public String extension() {
        return "onnx";
    }

    /** A folder as Hugging Face Optimum lays it out: {@code model.onnx}, {@code config.json}, the tokenizer and pooling files. */
    @Override
    public boolean writesFolder() {
        return true;
    }

    @Override
    public void checkBeforeLoading(ExportModel model) {
        switch (model.architecture()) {
            case BertSpec b -> BertGraph.check(model);
            case TransformerSpec t -> {
                LlamaGraph.checkArchitecture(model, t);
                if (externalData(model).equals("never")) {
                    fits(model, 4L * t.vocabSize() * t.hiddenSize(), "its FLOAT embedding table alone");
                }
            }
        }
    }

    @Override
    public void check(ExportSource model) {
        checkBeforeLoading(model);
        if (model.architecture() instanceof TransformerSpec t) {
            LlamaGraph.checkNames(model);
        }
        if (externalData(model).equals("never")) {
            // every parameter a method did not quantize is a FLOAT initializer: at least this much graph
            fits(model, weightBytes(model, false), "its unquantized parameters alone");
        }
    }

    /**
     * Above this estimate of the weights' bytes, auto keeps them in the external data file: 1.75
     * GiB leaves room under protobuf's 2 GiB for what the estimate leaves out (rotary tables, 134 MB
     * at 131072 positions; constants; the graph's own messages).
     */
    private static final long AUTO_EXTERNAL_ABOVE = 7L << 28;

    /**
     * The parameters' bytes as initializers: 4 per value of a float parameter and, when
     * {@code quantized}, at most 1 per code and 4 per scale of a quantized weight (an upper bound).
     */
    private static long weightBytes(ExportSource model, boolean quantized) {
        long bytes = 0;
        for (String name : model.parameterNames()) {
            long elements = java.util.Arrays.stream(model.shape(name)).reduce(1, Math::multiplyExact);
            java.util.Optional<org.fmsmo.api.quant.QuantizedTensor> codes = name.endsWith(".weight")
                    ? model.codes(name.substring(0, name.length() - ".weight".length())) : java.util.Optional.empty();
            if (codes.isEmpty()) {
                bytes += 4 * elements;
            } else if (quantized) {
                bytes += elements + 4 * codes.get().scale().size();
            }
        }
        return bytes;
    }

    private static String externalData(ExportModel model) {
        return model.options().getString(EXTERNAL_KEY, "auto");
    }

    /** An ONNX model is one protobuf message, which holds at most 2 GiB, unless its tensors' bytes are external. */
    private static void fits(ExportModel model, long bytes, String what) {
        if (bytes > Proto.MAX_BYTES) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, model.location() + ": " + what + " would take " + bytes
                    + " bytes of the ONNX graph; expected at most " + Proto.MAX_BYTES + " (2 GiB, protobuf's limit for one message) in one file;"
                    + " set " + EXTERNAL_KEY + "=always to keep the weights in " + DATA_FILE);
        }
    }

    @Override
    public void write(ExportSource model, WritableByteChannel out) {
        check(model);
        model.progress().begin("onnx", 1, "graphs");
        String mode = externalData(model);
        // auto decides before building, so that external weights are written as they are made rather than all held
        boolean split = mode.equals("always") || mode.equals("auto") && weightBytes(model, true) > AUTO_EXTERNAL_ABOVE;
        ExternalData external = split ? new ExternalData(DATA_FILE, model.companionFile(DATA_FILE)) : null;
        Proto proto;
        LinearOps linears;
        try {
            // building writes the external weights as they are made: its I/O errors are reported as the graph's
            if (model.architecture() instanceof TransformerSpec t) {
                LlamaGraph llama = new LlamaGraph(model, t, external);
                proto = llama.build().modelProto("fmsmo-llama");
                linears = llama.linears;
            } else {
                BertGraph bert = new BertGraph(model, (BertSpec) model.architecture(), external);
                proto = bert.build().modelProto("fmsmo-bert");
                linears = bert.linears;
            }
            fits(model, proto.size(), "the graph");
            // the host owns and closes the channels: flushed, not closed
            java.io.OutputStream o = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(out), 1 << 20);
            proto.writeTo(o);
            o.flush();
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the ONNX graph: " + e.getMessage(), e);
        } finally {
            model.progress().advance(1);
            model.progress().end();
        }
        LOG.log(System.Logger.Level.INFO, "ONNX graph: {0} integer (MatMulInteger) linears, {1} MatMulNBits, {2} FP8 QDQ, {3} float; {4} bytes in the graph{5}",
                linears.integer, linears.nbits, linears.fp8, linears.floats, proto.size(),
                external == null ? "" : ", " + external.size() + " in " + DATA_FILE);
    }

    /** {@code onnx}. */
    public static final class Provider implements ExportFormatProvider {
        @Override
        public String name() {
            return "onnx";
        }

        @Override
        public String description() {
            return "ONNX for ONNX Runtime: BERT encoders and Llama decoders (logits and a KV cache), with W8A8 MatMulInteger, W4 MatMulNBits, FP8 QDQ or float linears";
        }

        @Override
        public List<org.fmsmo.api.plugin.ConfigKeySpec> configKeys() {
            return List.of(org.fmsmo.api.plugin.ConfigKeySpec.choice(EXTERNAL_KEY, "weights in " + DATA_FILE + " beside the graph: auto (when the"
                    + " graph would pass protobuf's 2 GiB), always, never; default auto", "auto", "always", "never"));
        }

        @Override
        public ExportFormat create() {
            return new OnnxFormat();
        }
    }
}
