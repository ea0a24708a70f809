package org.fmsmo.plugin.cpu;

import java.util.Map;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;

/** {@code cpu-reference}: integer execution on the CPU in plain Java; available everywhere. */
public final class CpuReferenceProvider implements DeployBackendProvider {

    @Override
    public String name() {
        return "cpu-reference";
    }

    @Override
    public String description() {
        return "reference CPU backend: int8 x int8 -> int32 GEMM (Vector API, tiled, multi-threaded), FP8 e4m3 with FP32 accumulation, both with accumulator emulation; weight-only INT/FP8";
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public DeployBackend create() {
        return new CpuReferenceBackend(Accumulation.EXACT, null);
    }

    /** Option: check every int32 accumulator against an exact long sum on every forward (slow). */
    static final String VERIFY = "verify_accumulators";

    @Override
    public Map<String, String> options() {
        Map<String, String> all = new java.util.LinkedHashMap<>(Accumulation.OPTIONS);
        all.put(VERIFY, "true: check every int32 accumulator against an exact long sum on every forward, fail on a difference (slow)");
        return Map.copyOf(all);
    }

    /** Options emulate a narrower integer accumulator ({@link Accumulation}) or turn on accumulator verification. */
    @Override
    public DeployBackend create(Map<String, String> options) {
        Map<String, String> accepted = options();
        for (String key : options.keySet()) {
            if (!accepted.containsKey(key)) {
                throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.INVALID_ARGUMENT, "cpu-reference has no option '"
                        + key + "'; it accepts " + accepted.keySet().stream().sorted().toList());
            }
        }
        Map<String, String> rest = new java.util.HashMap<>(options);
        String verify = rest.remove(VERIFY);
        if (verify != null && !verify.equals("true") && !verify.equals("false")) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.INVALID_ARGUMENT,
                    "cpu-reference option " + VERIFY + ": expected true or false, found '" + verify + "'");
        }
        Accumulation accumulation = Accumulation.parse(rest);
        boolean verifying = Boolean.parseBoolean(verify);
        if (verifying && !accumulation.exact()) {
            throw new org.fmsmo.api.FmsmoException(org.fmsmo.api.ErrorCode.INVALID_ARGUMENT,
                    "cpu-reference option " + VERIFY + " checks exact accumulators; it cannot be combined with " + accumulation);
        }
        return new CpuReferenceBackend(accumulation, verifying ? new AccumulatorCheck() : null);
    }
}
