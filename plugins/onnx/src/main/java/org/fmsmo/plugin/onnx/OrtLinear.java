package org.fmsmo.plugin.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.format.InputQuantization;
import org.fmsmo.api.quant.QuantizedTensor;

/**
 * One frozen linear layer as an ONNX Runtime session, built once: the graph {@link LinearOps}
 * writes for it (W8A8 as {@code MatMulInteger}, W4 as {@code MatMulNBits}), input {@code x}
 * [rows, in], output [rows, out]. A forward call hands the input's floats to ONNX Runtime and
 * the result back to the caller's engine: two copies, the least ONNX Runtime Java allows for
 * arrays it does not own.
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
        OnnxGraph g = new OnnxGraph();
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
        float[] result;
        try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.toFloatArray()), new long[] {rows, in});
             OrtSession.Result r = session.run(Map.of("x", t))) {
            FloatBuffer b = ((OnnxTensor) r.get(0)).getFloatBuffer();
            result = new float[b.remaining()];
            b.get(result);
        } catch (OrtException e) {
            throw new FmsmoException(ErrorCode.INTERNAL, "onnxruntime failed on a layer: " + e.getMessage(), e);
        }
        long[] dims = shape.getShape().clone();
        dims[dims.length - 1] = out;
        return x.getManager().create(result, new Shape(dims));
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
