package org.fmsmo.core.recipe;

import static org.fmsmo.core.recipe.ConfigKey.Kind.BOOL;
import static org.fmsmo.core.recipe.ConfigKey.Kind.INT;
import static org.fmsmo.core.recipe.ConfigKey.Kind.LAYER_OVERRIDES;
import static org.fmsmo.core.recipe.ConfigKey.Kind.NUMBER;
import static org.fmsmo.core.recipe.ConfigKey.Kind.STRING;
import static org.fmsmo.core.recipe.ConfigKey.Kind.STRING_LIST;

import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

/**
 * The keys a quantization config may hold, with the fms-mo names and meanings ({@code nbits_w},
 * {@code qa_mode}, {@code qskip_layer_name} …) and the values each allows. Bit width 32 means
 * "not quantized", as in fms-mo.
 */
public final class ConfigSchema {

    /** Activation quantizer modes (QUANTIZERS.md). */
    public static final List<String> ACTIVATION_MODES = List.of("pact", "pact+", "pactsym", "pactsym+", "lsq+", "pertokenmax", "fix",
            "max", "maxsym", "minmax", "fp8_e4m3_sat", "fp8_e4m3_scale", "fp8_e4m3_scale_perToken", "fp8_e5m2_sat", "fp8_e5m2_scale",
            "fp8_e5m2_scale_perToken");

    /** Weight quantizer modes (QUANTIZERS.md). */
    public static final List<String> WEIGHT_MODES = List.of("sawb", "sawb+", "sawbperCh", "sawb+perCh", "max", "maxsym", "maxperCh",
            "maxperGp", "maxfull", "maxfullperCh", "maxfullperGp", "minmax", "minmaxperCh", "minmaxperGp", "pact", "pact+", "fp8_e4m3_sat", "fp8_e4m3_scale",
            "fp8_e4m3_scale_perCh", "fp8_e5m2_sat", "fp8_e5m2_scale", "fp8_e5m2_scale_perCh");

    /** Calibration observers. */
    public static final List<String> OBSERVERS = List.of("minmax", "moving_minmax", "percentile", "mse", "entropy");

    private static final int[] BITS = {2, 3, 4, 5, 6, 7, 8, 32};

    private static final Map<String, ConfigKey> KEYS = new LinkedHashMap<>();

    static {
        add(ConfigKey.ints("nbits_w", "weight bits (32: weights not quantized)", BITS));
        add(ConfigKey.ints("nbits_a", "activation bits (32: activations not quantized)", BITS));
        add(ConfigKey.choice("qw_mode", "weight quantizer mode", WEIGHT_MODES.toArray(String[]::new)));
        add(ConfigKey.choice("qa_mode", "activation quantizer mode", ACTIVATION_MODES.toArray(String[]::new)));
        add(ConfigKey.range("qw_group_size", INT, 1, 1 << 20, "input columns per group for the perGp weight modes"));
        add(ConfigKey.range("qmodel_calibration", INT, 0, 1 << 20, "calibration batches run before training or freezing (0: none)"));
        add(ConfigKey.choice("scale_dtype", "precision of stored INT weight scales (float16: rounded so GPTQ v1 checkpoints hold them exactly)",
                "float32", "float16"));
        add(ConfigKey.choice("qa_mode_calib", "observer that initialises activation clips", OBSERVERS.toArray(String[]::new)));
        add(ConfigKey.choice("qw_mode_calib", "how weight clips are initialised", "max", "sawb", "percentile", "mse"));
        add(ConfigKey.range("qa_percentile", NUMBER, 50, 100, "upper percentile for the percentile observer (lower is 100 − it)"));
        add(ConfigKey.of("smoothq", BOOL, "SmoothQuant: migrate activation outliers into the weights"));
        add(ConfigKey.range("smoothq_alpha", NUMBER, 0, 1, "SmoothQuant migration strength α"));
        add(ConfigKey.of("smoothq_fold_only", BOOL, "smooth only layers whose scale folds into the preceding norm (deployable formats hold no run-time input divisor)"));
        add(ConfigKey.of("qskip_layer_name", STRING_LIST, "layers never quantized (HF names)"));
        add(ConfigKey.of("qlayer_name_pattern", STRING_LIST, "when set, only layers matching one of these regexes are quantized"));
        add(ConfigKey.of("qspecial_layers", LAYER_OVERRIDES, "per-layer overrides: {\"name\": {\"nbits_w\": 8, …}}"));
        add(ConfigKey.of("qskip_lm_head", BOOL, "leave lm_head unquantized"));
        add(ConfigKey.of("qskip_large_mag_layers", BOOL, "skip layers whose weight magnitudes are outliers"));
        add(ConfigKey.of("QBmm", BOOL, "quantize the attention matmuls (QKᵀ and AV)"));
        add(ConfigKey.ints("nbits_bmm1", "bits of QKᵀ operands", BITS));
        add(ConfigKey.ints("nbits_bmm2", "bits of AV operands", BITS));
        add(ConfigKey.range("pact_a_lr", NUMBER, 0, 10, "learning rate of activation clips"));
        add(ConfigKey.range("pact_w_lr", NUMBER, 0, 10, "learning rate of weight clips"));
        add(ConfigKey.range("qat_steps", INT, 1, 1 << 24, "QAT optimizer steps"));
        add(ConfigKey.range("qat_lr", NUMBER, 0, 1, "QAT learning rate of the weights (AdamW)"));
        add(ConfigKey.range("qat_weight_decay", NUMBER, 0, 1, "QAT decoupled weight decay of the weights (clips: none)"));
        add(ConfigKey.range("qat_warmup_steps", INT, 0, 1 << 24, "QAT linear warm-up steps before the schedule"));
        add(ConfigKey.choice("qat_schedule", "QAT learning-rate schedule after warm-up", "cosine", "linear", "constant"));
        add(ConfigKey.range("qat_grad_clip", NUMBER, 0, 1e6, "QAT global gradient-norm clip (0: none)"));
        add(ConfigKey.range("qat_grad_accum", INT, 1, 1 << 16, "QAT micro-batches per optimizer step"));
        add(ConfigKey.choice("qat_embedding_loss", "QAT distillation loss for encoders", "cosine", "mse"));
        add(ConfigKey.range("qat_checkpoint_every", INT, 0, 1 << 24, "QAT steps between resumable checkpoints (0: only after the last step)"));
        add(ConfigKey.range("qat_eval_every", INT, 0, 1 << 24, "QAT steps between held-out evaluations (0: only at the end)"));
        add(ConfigKey.range("damp_percent", NUMBER, 1e-6, 0.999, "GPTQ dampening: λ in H + λ·mean(diag H)·I (raised ×10 on a failed factorisation)"));
        add(ConfigKey.of("desc_act", BOOL, "GPTQ act-order: quantize columns by descending Hessian diagonal (records g_idx)"));
        add(ConfigKey.of("static_groups", BOOL, "GPTQ: fix every group's scale from the original weights before any update"));
        add(ConfigKey.of("true_sequential", BOOL, "GPTQ: within a block, later layers see earlier ones quantized (false: each sees the block's float layers; the block output is still quantized)"));
        add(ConfigKey.range("gptq_block_size", INT, 1, 1 << 16, "GPTQ columns per lazy-update block"));
        add(ConfigKey.of("qw_spec", STRING, "explicit weight QuantSpec (int4-sym-group128 …), overriding bits/mode"));
        add(ConfigKey.of("qa_spec", STRING, "explicit activation QuantSpec, overriding bits/mode"));
    }

    /** Keys {@code qspecial_layers} may override for one layer. */
    static final Set<String> PER_LAYER = Set.of("nbits_w", "nbits_a", "qw_mode", "qa_mode", "qw_group_size", "qw_spec", "qa_spec");

    private ConfigSchema() {
    }

    private static void add(ConfigKey k) {
        KEYS.put(k.name(), k);
    }

    /** Every key, in documentation order. */
    public static List<ConfigKey> keys() {
        return List.copyOf(KEYS.values());
    }

    /**
     * The key of this name.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the closest known keys
     */
    public static ConfigKey key(String name, String where) {
        ConfigKey k = KEYS.get(name);
        if (k == null) {
            List<String> close = KEYS.keySet().stream().sorted(Comparator.comparingInt(n -> distance(n, name))).limit(3).toList();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, where + ": unknown config key '" + name + "'; closest: " + close
                    + "; all keys: " + KEYS.keySet());
        }
        return k;
    }

    /** Edit distance, for suggestions. */
    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            int[] cur = new int[b.length() + 1];
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            prev = cur;
        }
        return prev[b.length()];
    }
}
