package org.fmsmo.plugin.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.arch.BertSpec;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.export.ExportFormat;
import org.fmsmo.api.export.ExportFormatProvider;
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
    public void check(ExportSource model) {
        switch (model.architecture()) {
            case BertSpec b -> BertGraph.check(model);
            case TransformerSpec t -> LlamaGraph.check(model, t);
        }
    }

    @Override
    public void write(ExportSource model, WritableByteChannel out) {
        check(model);
        model.progress().begin("onnx", 1, "graphs");
        byte[] bytes;
        LinearOps linears;
        if (model.architecture() instanceof TransformerSpec t) {
            LlamaGraph graph = new LlamaGraph(model, t);
            bytes = graph.build();
            linears = graph.linears;
        } else {
            BertGraph graph = new BertGraph(model, (BertSpec) model.architecture());
            bytes = graph.build();
            linears = graph.linears;
        }
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                out.write(b);
            }
        } catch (IOException e) {
            throw new FmsmoException(ErrorCode.IO_ERROR, "cannot write the ONNX graph: " + e.getMessage(), e);
        } finally {
            model.progress().advance(1);
            model.progress().end();
        }
        LOG.log(System.Logger.Level.INFO, "ONNX graph: {0} integer (MatMulInteger) linears, {1} MatMulNBits, {2} FP8 QDQ, {3} float", linears.integer, linears.nbits,
                linears.fp8, linears.floats);
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
            return List.of();
        }

        @Override
        public ExportFormat create() {
            return new OnnxFormat();
        }
    }
}
