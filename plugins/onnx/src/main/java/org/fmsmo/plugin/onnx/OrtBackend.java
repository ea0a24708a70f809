package org.fmsmo.plugin.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.BackendCapabilities;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.api.deploy.FrozenLinear;
import org.fmsmo.api.deploy.PreparedLinear;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.QuantType;

/**
 * {@code onnxruntime}: frozen layers through ONNX Runtime's CPU kernels (MLAS), one session per
 * layer: W8A8 with dynamic per-token or static per-tensor INT8 inputs as {@code MatMulInteger},
 * W4 groups as {@code MatMulNBits}, other weight-only layers dequantized once.
 */
final class OrtBackend implements DeployBackend {

    private static final BackendCapabilities CAPABILITIES = new BackendCapabilities("cpu (ONNX Runtime " + version() + ")", List.of(
            new BackendCapabilities.Scheme("w8a8-int8", QuantType.INT, 8, Set.of(Granularity.CHANNEL, Granularity.TENSOR), false,
                    QuantType.INT, Set.of(Granularity.TOKEN, Granularity.TENSOR), true),
            new BackendCapabilities.Scheme("w4-matmulnbits", QuantType.INT, 4, Set.of(Granularity.GROUP), false, null, Set.of(), false),
            new BackendCapabilities.Scheme("weight-only-dequantized", QuantType.INT, 8, Set.of(Granularity.CHANNEL, Granularity.TENSOR, Granularity.GROUP),
                    true, null, Set.of(), false)));

    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    /** Integer weights as int8 for ONNX Runtime's u8×s8 kernels (exact only with VNNI); uint8 otherwise. */
    private final boolean signedWeights;

    OrtBackend(int threads, boolean signedWeights) {
        this.signedWeights = signedWeights;
        this.env = OrtEnvironment.getEnvironment();
        this.options = new OrtSession.SessionOptions();
        try {
            options.setIntraOpNumThreads(threads);
            // The layer sessions take turns with the engine's own ops (norms, attention) on the same cores. A worker
            // that spins after its run, waiting for more, takes a core from them: 2 threads spinning ran MiniLM at
            // 0.24x the float model, 2 threads that sleep at 2.95x.
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
        } catch (OrtException e) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "onnxruntime: " + e.getMessage(), e);
        }
    }

    private static String version() {
        try {
            return OrtEnvironment.getEnvironment().getVersion();
        } catch (RuntimeException | LinkageError e) {
            return "unavailable";
        }
    }

    @Override
    public BackendCapabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public PreparedLinear prepare(FrozenLinear layer) {
        CAPABILITIES.requireSupported("onnxruntime", layer);
        return new OrtLinear(env, options, layer, signedWeights);
    }

    @Override
    public Map<String, Object> diagnostics() {
        return Map.of("onnxruntime", version(), "integer_weights", signedWeights ? "int8 (u8×s8, VNNI)" : "uint8 (u8×u8)");
    }

    @Override
    public void close() {
        options.close();
    }

    /** {@code onnxruntime}. */
    public static final class Provider implements DeployBackendProvider {
        @Override
        public String name() {
            return "onnxruntime";
        }

        @Override
        public String description() {
            return "ONNX Runtime CPU kernels: W8A8 MatMulInteger (per-token or static inputs), W4 MatMulNBits, one session per layer";
        }

        @Override
        public Availability availability() {
            try {
                OrtEnvironment.getEnvironment();
                return Availability.yes();
            } catch (RuntimeException | LinkageError e) {
                return Availability.no("ONNX Runtime does not load here: " + e.getMessage());
            }
        }

        @Override
        public Map<String, String> options() {
            return Map.of("threads", "intra-op threads per layer session (default: the processors this JVM may use;"
                            + " ONNX Runtime's own default counts physical cores and can come out at 1 in a VM)",
                    "signed_weights", "auto|true|false: int8 weights for the u8×s8 kernels, exact only on CPUs with VNNI (default auto: when /proc/cpuinfo"
                            + " lists avx512_vnni or avx_vnni)");
        }

        @Override
        public DeployBackend create() {
            return create(Map.of());
        }

        @Override
        public DeployBackend create(Map<String, String> options) {
            for (String key : options.keySet()) {
                if (!key.equals("threads") && !key.equals("signed_weights")) {
                    throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "onnxruntime has no option '" + key + "'; it accepts [signed_weights, threads]");
                }
            }
            String signed = options.getOrDefault("signed_weights", "auto");
            boolean signedWeights = switch (signed) {
                case "auto" -> hasVnni();
                case "true" -> true;
                case "false" -> false;
                default -> throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "onnxruntime option signed_weights: expected auto, true or false, found '"
                        + signed + "'");
            };
            String t = options.get("threads");
            int threads;
            try {
                threads = t == null ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(t);
            } catch (NumberFormatException e) {
                threads = -1;
            }
            if (threads < 1 || threads > 1024) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "onnxruntime option threads: expected 1 to 1024, found '" + t + "'");
            }
            return new OrtBackend(threads, signedWeights);
        }

        /** Whether the CPU sums u8×s8 products exactly in int32 (AVX-512 VNNI or AVX-VNNI), from Linux's /proc/cpuinfo; false elsewhere. */
        static boolean hasVnni() {
            try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                return lines.filter(l -> l.startsWith("flags")).findFirst()
                        .map(l -> java.util.Arrays.asList(l.split("\\s+")))
                        .map(flags -> flags.contains("avx512_vnni") || flags.contains("avx_vnni")).orElse(false);
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                return false;
            }
        }
    }
}
