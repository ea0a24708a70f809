package org.fmsmo.core.quant;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.quant.KvCacheScales;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.QuantType;
import org.fmsmo.api.quant.Quantizer;
import org.fmsmo.core.nn.Bmm;
import org.fmsmo.core.nn.Module;

/**
 * The KV cache as the attention matmuls hold it: a {@link QBmm} without a first quantizer
 * quantizes only its second operand — keys in {@code q·kᵀ} ({@code bmm1}), values in {@code p·v}
 * ({@code bmm2}) — with a static FP8 scale {@code amax / 448}. Reads those scales out of a module
 * tree for checkpoint formats, and puts stored ones back into a loaded model.
 */
public final class KvCache {

    private static final String KEYS = ".bmm1";
    private static final String VALUES = ".bmm2";

    private KvCache() {
    }

    /** The quantized KV caches under {@code root}, one per attention module with both matmuls quantized so, in forward order. */
    public static List<KvCacheScales> of(Module root) {
        Map<String, Float> keys = new LinkedHashMap<>();
        Map<String, Float> values = new LinkedHashMap<>();
        Map<String, QuantSpec> specs = new LinkedHashMap<>();
        root.forEachBmm("", (local, b) -> {
            if (b instanceof QBmm q && q.first() == null) {
                String name = q.name();
                Float scale = scale(q.second());
                if (scale != null && (name.endsWith(KEYS) || name.endsWith(VALUES))) {
                    String attention = name.substring(0, name.length() - KEYS.length());
                    (name.endsWith(KEYS) ? keys : values).put(attention, scale);
                    specs.put(attention, q.second().spec());
                }
            }
        });
        List<KvCacheScales> out = new ArrayList<>();
        keys.forEach((attention, k) -> {
            Float v = values.get(attention);
            if (v != null) {
                out.add(new KvCacheScales(attention, specs.get(attention), k, v));
            }
        });
        return out;
    }

    /** The dequantization scale of a calibrated static FP8 quantizer, or null for any other. */
    private static Float scale(Quantizer q) {
        float[] amax = q.state().get("amax");
        if (q.spec().type() != QuantType.FP8_E4M3 || amax == null || amax.length != 1 || !(amax[0] > 0)) {
            return null;
        }
        return (float) (amax[0] / q.spec().type().fp8Format().orElseThrow().max());
    }

    /**
     * Quantizes the keys and values of each attention module named in {@code caches} with its
     * stored scales, as the serving engine does ({@code root} is the loaded model, or one block of it).
     *
     * @throws FmsmoException {@link ErrorCode#CORRUPT_INPUT} naming an attention module the model does not have
     */
    public static void apply(Module root, Map<String, KvCacheScales> caches, String location) {
        for (KvCacheScales c : caches.values()) {
            put(root, c.attention() + KEYS, c.spec(), c.keyScale(), location);
            put(root, c.attention() + VALUES, c.spec(), c.valueScale(), location);
        }
    }

    private static void put(Module root, String name, QuantSpec spec, float scale, String location) {
        String prefix = root.path().isEmpty() ? "" : root.path() + ".";
        String local = name.startsWith(prefix) ? name.substring(prefix.length()) : name;
        Bmm old = root.findBmm(local).orElseThrow(() -> new FmsmoException(ErrorCode.CORRUPT_INPUT,
                location + ": a KV-cache scale for " + name + ", which the model does not have"));
        Quantizer q = QuantizerModes.create("fp8_e4m3_scale", spec);
        q.loadState(Map.of("amax", new float[] {(float) (scale * spec.type().fp8Format().orElseThrow().max())}));
        root.replaceBmm(local, new QBmm(old instanceof QBmm already ? already.wrapped() : old, null, q));
    }
}
