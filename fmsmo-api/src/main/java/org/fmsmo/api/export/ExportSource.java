package org.fmsmo.api.export;

import java.util.List;
import java.util.Optional;
import org.fmsmo.api.Experimental;
import org.fmsmo.api.quant.ProgressListener;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * A loaded model as an {@link ExportFormat} sees it: what {@link ExportModel} describes (config,
 * architecture, options, the files beside it), and its parameters under the names and in the
 * layout of the checkpoint it was read from, with the codes of each frozen quantized layer.
 */
@Experimental(since = "1.5")
public interface ExportSource extends ExportModel {

    /** Every parameter's stored name ({@code model.layers.0.self_attn.q_proj.weight}), in checkpoint order. */
    List<String> parameterNames();

    /** A parameter's shape as stored ({@code [out, in]} for a linear weight). */
    long[] shape(String name);

    /**
     * A parameter's values as the model computes with them, row-major: for the weight of a frozen
     * quantized layer, its codes dequantized.
     */
    float[] floats(String name);

    /**
     * The frozen codes of a quantized linear, by layer name ({@code model.layers.0.mlp.down_proj}):
     * present when a method quantized it (GPTQ, RTN …), so that a format able to express them keeps
     * the method's rounding instead of rounding again.
     */
    Optional<QuantizedTensor> codes(String layer);

    /**
     * How a quantized layer's input is quantized when the model runs (dynamic per-token INT8 for
     * W8A8 …), by layer name; empty for a layer that takes float inputs.
     */
    Optional<org.fmsmo.api.format.InputQuantization> inputQuantization(String layer);

    /**
     * A frozen quantized layer as a deploy backend sees it (codes, bias, and for static input
     * quantization the calibrated input scale and zero point), by layer name; empty for a layer
     * that no method froze.
     */
    Optional<org.fmsmo.api.deploy.FrozenLinear> frozenLayer(String layer);

    /** Where the export reports how far it is (one unit per tensor). */
    ProgressListener progress();

    /**
     * A new file beside the format's own in the export's folder, for a format that
     * {@link ExportFormat#writesFolder writes a folder} and keeps data outside its main file (ONNX's
     * external data, which lets a graph pass protobuf's 2 GiB). The host creates it in the
     * temporary folder it commits atomically, and forces and closes it after
     * {@link ExportFormat#write} returns.
     *
     * @param name a plain file name ({@code model.onnx_data}): letters, digits, {@code . _ -}
     * @throws IllegalArgumentException for another name, or one already asked for
     * @throws UnsupportedOperationException for a format that writes a single file
     */
    default java.nio.channels.WritableByteChannel companionFile(String name) {
        throw new UnsupportedOperationException("this host writes no file beside the export's own");
    }
}
