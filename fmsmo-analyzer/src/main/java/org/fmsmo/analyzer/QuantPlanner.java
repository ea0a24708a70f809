package org.fmsmo.analyzer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.Granularity;
import org.fmsmo.api.quant.LayerDecision;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.api.quant.QuantSpec;

/**
 * Builds a {@link QuantPlan} from a model's linear layers and the config, with the fms-mo rules:
 * <ul>
 *   <li>{@code qskip_layer_name}: exact module names never quantized;</li>
 *   <li>{@code qlayer_name_pattern}: when given, only layers whose name matches one of these
 *       regular expressions (searched, not anchored) are quantized;</li>
 *   <li>{@code qskip_lm_head} (default true): the output head {@code lm_head} stays in float;</li>
 *   <li>specs: {@code qw_spec} / {@code qa_spec} in {@link QuantSpec} text form, or else
 *       {@code nbits_w} (default 8) as a symmetric per-channel INT weight spec; activations are
 *       not quantized unless {@code qa_spec} is set.</li>
 * </ul>
 * Later analyzers add what a traced forward pass shows (attention matmuls, shared inputs).
 */
public final class QuantPlanner {

    private QuantPlanner() {
    }

    /** The plan for {@code model} under {@code config}. */
    public static QuantPlan plan(QuantizableModel model, QuantConfig config) {
        QuantSpec weightSpec = config.get("qw_spec").map(v -> QuantSpec.parse(v.toString()))
                .orElseGet(() -> QuantSpec.intSymmetric(config.getInt("nbits_w", 8)).withGranularity(Granularity.CHANNEL));
        QuantSpec inputSpec = config.get("qa_spec").map(v -> QuantSpec.parse(v.toString())).orElse(null);
        List<String> skip = config.getStringList("qskip_layer_name");
        List<Pattern> only = patterns(config.getStringList("qlayer_name_pattern"));
        boolean skipHead = config.getBoolean("qskip_lm_head", true);

        List<LayerDecision> decisions = new ArrayList<>();
        for (LinearLayer l : model.linearLayers()) {
            String name = l.name();
            String why = null;
            if (skip.contains(name)) {
                why = "listed in qskip_layer_name";
            } else if (skipHead && (name.equals("lm_head") || name.endsWith(".lm_head"))) {
                why = "output head stays in float (qskip_lm_head=true)";
            } else if (!only.isEmpty() && only.stream().noneMatch(p -> p.matcher(name).find())) {
                why = "matches no qlayer_name_pattern";
            }
            decisions.add(why == null
                    ? new LayerDecision(name, "linear", true, "linear layer", weightSpec, inputSpec)
                    : new LayerDecision(name, "linear", false, why, null, null));
        }
        return new QuantPlan(decisions);
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
