package org.fmsmo.core.analysis;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;
import org.fmsmo.api.quant.RangeSource;
import org.fmsmo.core.quant.QuantizerModes;

/**
 * Turns what is known about a model's layers and the config into a {@link QuantPlan}, with the
 * fms-mo rules:
 * <ul>
 *   <li>{@code qskip_layer_name}: exact module names never quantized;</li>
 *   <li>{@code qlayer_name_pattern}: when given, only layers whose name matches one of these
 *       regular expressions (searched, not anchored) are quantized;</li>
 *   <li>{@code qskip_lm_head} (default true): the output head {@code lm_head} stays in float;</li>
 *   <li>{@code qskip_large_mag_layers}: layers whose max |w| is over {@value #LARGE_MAGNITUDE}×
 *       the median layer's stay in float (they are reported either way);</li>
 *   <li>{@code qspecial_layers}: per-layer overrides of the bit and mode keys;</li>
 *   <li>specs: {@code qw_spec} / {@code qa_spec} in {@link QuantSpec} text form win; otherwise the
 *       spec the mode implies ({@code qw_mode}, default {@code maxperCh}; {@code qa_mode}, default
 *       {@code maxsym}) at {@code nbits_w} (default 8) / {@code nbits_a}; activations are quantized
 *       when {@code nbits_a} &lt; 32 or {@code qa_spec} is set; static activation ranges come from
 *       the {@code qa_mode_calib} observer;</li>
 *   <li>attention matmuls ({@code QBmm}: true, or {@code nbits_bmm1}/{@code nbits_bmm2} &lt; 32):
 *       both operands per tensor, with {@code qa_mode} when it is a per-tensor mode, else
 *       {@code maxsym}; otherwise, with {@code kv_cache_scheme=fp8}, the KV cache: each matmul's
 *       second operand (keys, values) in FP8 e4m3 per tensor, the first left in float.</li>
 * </ul>
 */
public final class QuantPlanner {

    /** The KV cache's spec and mode ({@code kv_cache_scheme=fp8}): FP8 e4m3, one static scale per tensor from its max |x|. */
    public static final QuantSpec KV_FP8 = QuantizerModes.specFor("fp8_e4m3_scale", 8, 0, RangeSource.MINMAX);
    /** The quantizer mode of {@link #KV_FP8}. */
    public static final String KV_FP8_MODE = "fp8_e4m3_scale";

    /** A layer whose max |w| exceeds this multiple of the median layer's is an outlier. */
    static final double LARGE_MAGNITUDE = 20;

    private QuantPlanner() {
    }

    /** The plan from the model's static tree alone (no trace: no attention matmuls, no input groups). */
    public static QuantPlan plan(QuantizableModel model, QuantConfig config) {
        List<String> names = model.linearLayers().stream().map(LinearLayer::name).toList();
        return plan(names, List.of(), List.of(), Map.of(), outputHeads(model), config);
    }

    /**
     * The linears that produce the model's output rather than feed a block: a decoder's head
     * ({@code lm_head}, or whatever its architecture names it). Without the block structure, the
     * layers named {@code lm_head}.
     */
    public static java.util.Set<String> outputHeads(QuantizableModel model) {
        if (model instanceof org.fmsmo.core.model.TransformerModel tm) {
            return tm.outputHeads();
        }
        return model.linearLayers().stream().map(LinearLayer::name).filter(n -> n.equals("lm_head") || n.endsWith(".lm_head"))
                .collect(java.util.stream.Collectors.toSet());
    }

    /** Why an output head is not quantized (the default). */
    public static final String HEAD_IN_FLOAT = "output head stays in float (qskip_lm_head=true)";

    /**
     * The plan from what a trace found.
     *
     * @param linears     linear layer names in forward order
     * @param bmms        attention matmul names in forward order
     * @param groups      linear layers grouped by shared input
     * @param maxMagnitude max |w| per linear layer (may be empty)
     */
    public static QuantPlan plan(List<String> linears, List<String> bmms, List<InputGroup> groups, Map<String, Double> maxMagnitude,
                                 java.util.Set<String> heads, QuantConfig config) {
        List<String> skip = config.getStringList("qskip_layer_name");
        List<Pattern> only = patterns(config.getStringList("qlayer_name_pattern"));
        boolean skipHead = config.getBoolean("qskip_lm_head", true);
        boolean skipLarge = config.getBoolean("qskip_large_mag_layers", false);
        double median = median(maxMagnitude);

        List<LayerDecision> decisions = new ArrayList<>();
        for (String name : linears) {
            String why = null;
            Double mag = maxMagnitude.get(name);
            boolean large = mag != null && median > 0 && mag > LARGE_MAGNITUDE * median;
            if (skip.contains(name)) {
                why = "listed in qskip_layer_name";
            } else if (skipHead && heads.contains(name)) {
                why = HEAD_IN_FLOAT;
            } else if (!only.isEmpty() && only.stream().noneMatch(p -> p.matcher(name).find())) {
                why = "matches no qlayer_name_pattern";
            } else if (large && skipLarge) {
                why = String.format(Locale.ROOT, "max |w| %.3g is over %.0fx the median layer's %.3g (qskip_large_mag_layers=true)",
                        mag, LARGE_MAGNITUDE, median);
            }
            if (why != null) {
                decisions.add(new LayerDecision(name, LayerDecision.LINEAR, false, why, null, null));
                continue;
            }
            QuantConfig c = special(config, name);
            String reason = large ? String.format(Locale.ROOT, "linear layer (note: max |w| %.3g is over %.0fx the median %.3g)",
                    mag, LARGE_MAGNITUDE, median) : "linear layer";
            String wMode = c.getString("qw_mode", "maxperCh");
            QuantSpec w = c.get("qw_spec").map(v -> QuantSpec.parse(v.toString()))
                    .orElseGet(() -> QuantizerModes.specFor(wMode, c.getInt("nbits_w", 8), c.getInt("qw_group_size", 128), RangeSource.MINMAX));
            String aMode = c.getString("qa_mode", "maxsym");
            QuantSpec a = activationSpec(c, aMode, c.getInt("nbits_a", 32));
            decisions.add(new LayerDecision(name, LayerDecision.LINEAR, true, reason, w, a,
                    c.get("qw_spec").isPresent() && c.get("qw_mode").isEmpty() ? null : wMode,
                    a == null || (c.get("qa_spec").isPresent() && c.get("qa_mode").isEmpty()) ? null : aMode));
        }
        boolean qbmm = config.getBoolean("QBmm", false) || config.getInt("nbits_bmm1", 32) < 32 || config.getInt("nbits_bmm2", 32) < 32;
        String bmmMode = perTensor(config.getString("qa_mode", "maxsym")) ? config.getString("qa_mode", "maxsym") : "maxsym";
        boolean kvFp8 = config.getString("kv_cache_scheme", "none").equals("fp8");
        for (String name : bmms) {
            if (!qbmm && kvFp8) {
                // The KV cache: keys (bmm1's second operand) and values (bmm2's) in FP8 e4m3 with one
                // calibrated scale per tensor, as vLLM's fp8 cache; queries and probabilities stay float.
                decisions.add(new LayerDecision(name, LayerDecision.BMM, true, "KV cache: " + (name.endsWith("bmm1") ? "keys" : "values")
                        + " in FP8 e4m3, one static scale per tensor", KV_FP8, null, KV_FP8_MODE, null));
                continue;
            }
            if (!qbmm) {
                decisions.add(new LayerDecision(name, LayerDecision.BMM, false, "attention matmul (QBmm=false)", null, null));
                continue;
            }
            int bits = config.getInt(name.endsWith("bmm1") ? "nbits_bmm1" : "nbits_bmm2", config.getInt("nbits_a", 8) < 32 ? config.getInt("nbits_a", 8) : 8);
            QuantSpec s = QuantizerModes.specFor(bmmMode, bits, 0, observer(config));
            decisions.add(new LayerDecision(name, LayerDecision.BMM, true, "attention matmul, both operands quantized", s, s, bmmMode, bmmMode));
        }
        return new QuantPlan(decisions, groups);
    }

    private static QuantSpec activationSpec(QuantConfig c, String mode, int bits) {
        if (c.get("qa_spec").isPresent()) {
            return QuantSpec.parse(c.getString("qa_spec", ""));
        }
        return bits >= 32 ? null : QuantizerModes.specFor(mode, bits, 0, observer(c));
    }

    private static RangeSource observer(QuantConfig c) {
        return switch (c.getString("qa_mode_calib", "minmax")) {
            case "moving_minmax" -> RangeSource.MOVING_MINMAX;
            case "percentile" -> RangeSource.PERCENTILE;
            case "mse" -> RangeSource.MSE;
            case "entropy" -> RangeSource.ENTROPY;
            default -> RangeSource.MINMAX;
        };
    }

    private static boolean perTensor(String mode) {
        return !mode.equals("pertokenmax") && !mode.endsWith("_perToken") && !mode.endsWith("perCh") && !mode.endsWith("perGp");
    }

    /**
     * Refuses layer names in {@code qskip_layer_name} and {@code qspecial_layers} that name none of
     * the model's linear layers: they are exact module names, so a misspelt one (or one from another
     * model) would silently quantize the layer it was meant to keep, or drop its overrides.
     *
     * @param linears every linear layer of the model, by module name (all blocks, and the head)
     */
    public static void checkLayerNames(java.util.Collection<String> linears, QuantConfig config) {
        java.util.Set<String> known = new java.util.HashSet<>(linears);
        List<String> named = new ArrayList<>(config.getStringList("qskip_layer_name").stream().map(n -> "qskip_layer_name:" + n).toList());
        if (config.get("qspecial_layers").orElse(null) instanceof Map<?, ?> m) {
            m.keySet().forEach(k -> named.add("qspecial_layers:" + k));
        }
        for (String n : named) {
            String key = n.substring(0, n.indexOf(':'));
            String name = n.substring(key.length() + 1);
            if (!known.contains(name)) {
                String example = linears.stream().filter(l -> !l.endsWith("lm_head")).findFirst().orElse("lm_head");
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, String.format(Locale.ROOT,
                        "%s: '%s' names no linear layer of this model; expected exact module names like '%s' (%d linear layers; "
                                + "`fmsmo analyze` lists them)", key, name, example, known.size()));
            }
        }
    }

    /** The config with {@code qspecial_layers[name]} applied. */
    private static QuantConfig special(QuantConfig config, String name) {
        Object all = config.get("qspecial_layers").orElse(null);
        if (all instanceof Map<?, ?> m && m.get(name) instanceof Map<?, ?> overrides) {
            QuantConfig c = config;
            for (Map.Entry<?, ?> e : overrides.entrySet()) {
                c = c.with(e.getKey().toString(), e.getValue());
            }
            return c;
        }
        return config;
    }

    private static double median(Map<String, Double> values) {
        if (values.isEmpty()) {
            return 0;
        }
        double[] v = values.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static List<Pattern> patterns(List<String> regexes) {
        List<Pattern> result = new ArrayList<>();
        for (String r : regexes) {
            try {
                result.add(Pattern.compile(r));
            } catch (PatternSyntaxException e) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "config key 'qlayer_name_pattern': '" + r
                        + "' is not a valid regular expression: " + e.getDescription());
            }
        }
        return result;
    }
}
