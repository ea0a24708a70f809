package org.fmsmo.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantizedTensor;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Linear;
import org.fmsmo.core.quant.QLinear;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU backends. Without a GPU: they load, say why they are unavailable, refuse to start with
 * that reason, and the PTX the build made names every kernel the Java side launches. With one:
 * outputs against an exact long-integer reference (INT8) and the simulated layer (FP8) on random
 * and real layer shapes.
 */
class CudaBackendTest {

    private static final List<DeployBackendProvider> PROVIDERS = List.of(new CudaInt8Provider(), new CudaFp8Provider(), new CudaW4A16Provider());

    @Test
    void withoutAGpuTheBackendsSayWhyAndRefuseToStart() {
        for (DeployBackendProvider p : PROVIDERS) {
            Availability a = p.availability();
            System.out.println(p.name() + ": " + (a.available() ? "available (driver present)" : "unavailable: " + a.reason()));
            if (Kernels.missing().isPresent()) {
                assertTrue(a.reason().startsWith("no kernels built"), a.reason());
            } else if (CudaDriver.find().isEmpty()) {
                assertTrue(a.reason().startsWith("no CUDA driver: libcuda.so.1 not found"), a.reason());
            }
            if (!a.available()) {
                FmsmoException e = assertThrows(FmsmoException.class, p::create);
                assertEquals(ErrorCode.BACKEND_UNAVAILABLE, e.code());
                assertTrue(e.getMessage().contains(a.reason()), e.getMessage());
            }
        }
    }

    /** Every function the Java side looks up is an entry of the PTX it loads (a renamed kernel fails here, not on a GPU). */
    @Test
    void builtPtxHasEveryKernelTheBackendsLaunch() {
        assumeTrue(Kernels.missing().isEmpty(), () -> "no PTX in this build: " + Kernels.missing().orElse(""));
        for (GemmKind kind : GemmKind.values()) {
            String ptx = Kernels.ptx(kind.ptx);
            for (String f : List.of(kind.quantizePerToken, kind.quantizeStatic, kind.gemm, kind.rescale)) {
                assertTrue(ptx.contains(".entry " + f + "("), kind.ptx + " has no kernel " + f);
            }
        }
        assertTrue(Kernels.ptx(GemmKind.INT8.ptx).contains("mma"), "int8 GEMM on tensor cores");
        assertTrue(Kernels.ptx(GemmKind.FP8.ptx).contains("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32"), "FP8 MMA");
    }

    /** The build script without nvcc: the jar says "no kernels built" and why. */
    @Test
    void buildScriptWithoutNvccRecordsWhy(@TempDir Path out) throws Exception {
        Path script = Path.of("src/main/cuda/build-kernels.sh").toAbsolutePath();
        assumeTrue(Files.isRegularFile(script), "build script not found from " + Path.of("").toAbsolutePath());
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), out.toString()).redirectErrorStream(true);
        pb.environment().put("FMSMO_NVCC", "none");
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        Properties props = new Properties();
        try (var in = Files.newInputStream(out.resolve("kernels.properties"))) {
            props.load(in);
        }
        assertEquals("none", props.getProperty("status"));
        assertTrue(props.getProperty("reason").startsWith("no kernels built: nvcc was not found"), props.toString());
        try (var files = Files.list(out)) {
            assertEquals(List.of("kernels.properties"), files.map(f -> f.getFileName().toString()).toList());
        }
    }

    private static DeployBackend gpu(DeployBackendProvider p) {
        Availability a = p.availability();
        assumeTrue(a.available(), () -> p.name() + " unavailable: " + a.reason());
        try {
            return p.create();
        } catch (FmsmoException e) {
            assumeTrue(false, p.name() + " cannot start here: " + e.getMessage());
            throw e;
        }
    }

    /** Random layers, and the layer shapes of MiniLM, tiny-llama and Llama-7B (K not a multiple of 32 included). */
    private static final int[][] SHAPES = {{1, 64, 16}, {5, 300, 48}, {130, 344, 128}, {64, 384, 1536}, {64, 1536, 384},
        {17, 128, 344}, {8, 4096, 11008}, {8, 11008, 4096}};

    @Test
    void int8OutputsEqualExactIntegerSums() {
        try (DeployBackend backend = gpu(new CudaInt8Provider()); NDManager m = NDManager.newBaseManager()) {
            QuantSpec w = QuantSpec.parse("int8-sym-channel");
            QuantSpec a = QuantSpec.parse("int8-sym-token");
            m.getEngine().setRandomSeed(21);
            for (int[] s : SHAPES) {
                int tokens = s[0], in = s[1], out = s[2];
                NDArray weight = m.randomNormal(new Shape(out, in));
                NDArray x = m.randomNormal(0f, 3f, new Shape(tokens, in), DataType.FLOAT32);
                QuantizedTensor qw = new QuantizerModes.Max().create(w).quantize(weight);
                QuantizedTensor qx = new QuantizerModes.Max().create(a).quantize(x);
                byte[] wc = qw.codes().toByteArray();
                byte[] xc = qx.codes().toByteArray();
                float[] sw = qw.scale().toFloatArray();
                float[] sx = qx.scale().toFloatArray();
                try (PreparedLinear layer = backend.prepare(FrozenLinear.dynamic("l", qw, null, a))) {
                    float[] y = layer.forward(x).toFloatArray();
                    for (int t = 0; t < tokens; t++) {
                        for (int o = 0; o < out; o++) {
                            long acc = 0;
                            for (int k = 0; k < in; k++) {
                                acc += (long) xc[t * in + k] * wc[o * in + k];
                            }
                            float expected = (float) acc * sx[t] * sw[o];
                            assertEquals(expected, y[t * out + o], 0f, java.util.Arrays.toString(s) + " [" + t + "][" + o + "]");
                        }
                    }
                }
            }
        }
    }

    @Test
    void fp8OutputsMatchTheSimulatedLayer() {
        try (DeployBackend backend = gpu(new CudaFp8Provider()); NDManager m = NDManager.newBaseManager()) {
            QuantSpec w = QuantSpec.parse("fp8_e4m3-channel");
            QuantSpec a = QuantSpec.parse("fp8_e4m3-token");
            m.getEngine().setRandomSeed(22);
            for (int[] s : SHAPES) {
                NDArray weight = m.randomNormal(new Shape(s[2], s[1]));
                NDArray bias = m.randomNormal(new Shape(s[2]));
                NDArray x = m.randomNormal(0f, 4f, new Shape(s[0], s[1]), DataType.FLOAT32);
                Quantizer iq = QuantizerModes.create("fp8_e4m3_scale_perToken", a);
                QuantizedTensor qw = QuantizerModes.create("fp8_e4m3_scale_perCh", w).quantize(weight);
                QLinear simulated = new QLinear(new Linear("l", weight, bias), QuantizerModes.create("fp8_e4m3_scale_perCh", w), iq);
                simulated.freeze();
                try (PreparedLinear layer = backend.prepare(FrozenLinear.dynamic("l", qw, bias, a))) {
                    float[] expected = simulated.forward(x).toFloatArray();
                    float[] actual = layer.forward(x).toFloatArray();
                    for (int i = 0; i < expected.length; i++) {
                        // exact products, FP32 sums in another order
                        assertEquals(expected[i], actual[i], 1e-4f * Math.max(1f, Math.abs(expected[i])), java.util.Arrays.toString(s) + " output " + i);
                    }
                }
            }
        }
    }
}
