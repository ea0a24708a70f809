package org.fmsmo.plugin.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.HostTensors;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * One frozen linear layer as an ONNX Runtime session, built once: the graph {@link LinearOps}
 * writes for it (W8A8 as {@code MatMulInteger}, W4 as {@code MatMulNBits}), input {@code x}
 * [rows, in], output [rows, out]. ONNX Runtime reads the input in the engine's memory and
 * writes the output into an array the engine allocated ({@link HostTensors}): no copies.
 */
final class OrtLinear implements PreparedLinear {

    private final OrtEnvironment env;
    private final OrtSession session;
    private final long in;
    private final long out;

    OrtLinear(OrtEnvironment env, OrtSession.SessionOptions options, FrozenLinear layer, boolean signedWeights) {
        this.env = env;
        this.in = layer.weight().shape().get(1);
        this.out = layer.weight().shape().get(0);
        OnnxGraph g = new OnnxGraph(null);
        String x = g.input("x", OnnxGraph.FLOAT, "rows", in);
        String y = new LinearOps(g, layers(layer), signedWeights, true).linear(x, layer.name(), (int) in, (int) out);
        g.output(g.named("y", "", "Identity", List.of(y)), OnnxGraph.FLOAT, "rows", out);
        try {
            this.session = env.createSession(g.model("fmsmo-linear"), options);
        } catch (OrtException e) {
            throw new FmsmoException(ErrorCode.UNSUPPORTED_SPEC, "onnxruntime cannot build layer " + layer.name() + ": " + e.getMessage(), e);
        }
    }

    /** The layer as the graph builder reads it. */
    private static LinearOps.Layers layers(FrozenLinear f) {
        return new LinearOps.Layers() {
            @Override
            public String location() {
                return "onnxruntime backend";
            }

            @Override
            public Optional<QuantizedTensor> codes(String layer) {
                return Optional.of(f.weight());
            }

            @Override
            public Optional<InputQuantization> inputQuantization(String layer) {
                return Optional.ofNullable(f.inputSpec()).map(s -> new InputQuantization(s, null));
            }

            @Override
            public Optional<FrozenLinear> frozenLayer(String layer) {
                return Optional.of(f);
            }

            @Override
            public float[] floats(String parameter) {
                if (parameter.endsWith(".bias")) {
                    return f.bias().toFloatArray();
                }
                try (NDArray w = f.weight().dequantize()) {
                    return w.toFloatArray();
                }
            }

            @Override
            public boolean has(String parameter) {
                return !parameter.endsWith(".bias") || f.bias() != null;
            }
        };
    }

    @Override
    public NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        long rows = shape.size() / in;
        long[] dims = shape.getShape().clone();
        dims[dims.length - 1] = out;
        NDArray y = HostTensors.allocate(x.getManager(), new Shape(dims));
        // ONNX Runtime reads the input where the engine keeps it and writes into y's memory: no copies
        try (OnnxTensor input = OnnxTensor.createTensor(env, HostTensors.floats(x), new long[] {rows, in});
             OnnxTensor output = OnnxTensor.createTensor(env, HostTensors.target(y), new long[] {rows, out});
             OrtSession.Result ignored = session.run(Map.of("x", input), Map.of("y", output))) {
            return y;
        } catch (OrtException e) {
            y.close();
            throw new FmsmoException(ErrorCode.INTERNAL, "onnxruntime failed on a layer: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException ignored) {
            // closing twice, or after the environment: nothing left to free
        }
    }
}
