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
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.core.quant.QuantizerModes;

/**
 * The keys a quantization config may hold and the values each allows: the host's own, with the
 * fms-mo names and meanings ({@code nbits_w}, {@code qa_mode}, {@code qskip_layer_name} …; bit
 * width 32 means "not quantized", as in fms-mo), plus those the installed plugins' providers
 * declare ({@link org.fmsmo.api.plugin.NamedProvider#configKeys()}), such as GPTQ's
 * {@code damp_percent} or QAT's {@code qat_steps}. A schema is made from the same registry the run
 * takes its methods from, so a key is known exactly when the plugin that reads it is installed.
 */
public final class ConfigSchema {

    /** Calibration observers. */
    public static final List<String> OBSERVERS = List.of("minmax", "moving_minmax", "percentile", "mse", "entropy");

    private static final int[] BITS = {2, 3, 4, 5, 6, 7, 8, 32};

    private static final Map<String, ConfigKey> KEYS = new LinkedHashMap<>();

    private static final ConfigSchema CORE;

    static {
        add(ConfigKey.ints("nbits_w", "weight bits (32: weights not quantized)", BITS));
        add(ConfigKey.ints("nbits_a", "activation bits (32: activations not quantized)", BITS));
        add(modeKey(QuantizerProvider.Use.WEIGHTS, QuantizerModes.NAMES, QuantizerModes::uses));
        add(modeKey(QuantizerProvider.Use.ACTIVATIONS, QuantizerModes.NAMES, QuantizerModes::uses));
        add(ConfigKey.range("qw_group_size", INT, 1, 1 << 20, "input columns per group for the perGp weight modes"));
        add(ConfigKey.range("qmodel_calibration", INT, 0, 1 << 20, "calibration batches run before training or freezing (0: none)"));
        add(ConfigKey.choice("scale_dtype", "precision of stored INT weight scales (float16: rounded so GPTQ v1 checkpoints hold them exactly)",
                "float32", "float16"));
        add(ConfigKey.choice("rotation", "rotate the residual stream and the value heads by randomized Hadamard matrices before the method "
                + "(QuaRot's offline rotations: the float model computes the same, outlier channels are spread): none, hadamard, or hadamard_online"
                + " (also an online Hadamard on down_proj's input at run time; fms format only)", "none", "hadamard", "hadamard_online"));
        add(ConfigKey.range("rotation_seed", INT, 0, Integer.MAX_VALUE, "seed of the rotation's random signs"));
        add(ConfigKey.choice("kv_cache_scheme", "the KV cache: none, or fp8 (keys and values in FP8 e4m3, one calibrated scale per tensor)",
                "none", "fp8"));
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
        add(ConfigKey.choice("qat_embedding_loss", "QAT distillation loss for encoders", "cosine", "mse"));
        add(ConfigKey.choice("qat_trainable", "what QAT trains besides the clips: every float parameter (default: embeddings, norms and a float"
                + " head too) or only the quantized layers' weights and biases", "all", "quantized"));
        add(ConfigKey.of("true_sequential", BOOL, "GPTQ: within a block, later layers see earlier ones quantized (false: each sees the block's float layers; the block output is still quantized)"));
        add(ConfigKey.of("qw_spec", STRING, "explicit weight QuantSpec (int4-sym-group128 …), overriding bits/mode"));
        add(ConfigKey.of("qa_spec", STRING, "explicit activation QuantSpec, overriding bits/mode"));
        CORE = new ConfigSchema(KEYS);
    }

    /** Keys {@code qspecial_layers} may override for one layer. */
    static final Set<String> PER_LAYER = Set.of("nbits_w", "nbits_a", "qw_mode", "qa_mode", "qw_group_size", "qw_spec", "qa_spec");

    private final Map<String, ConfigKey> keys;

    private ConfigSchema(Map<String, ConfigKey> keys) {
        this.keys = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(keys));
    }

    private static void add(ConfigKey k) {
        KEYS.put(k.name(), k);
    }

    /** The host's own keys only. */
    public static ConfigSchema core() {
        return CORE;
    }

    /**
     * The host's keys and those every provider in {@code plugins} declares, owned by its plugin.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when a plugin declares a host key, or
     *         two plugins one key differently, naming both
     */
    public static ConfigSchema of(org.fmsmo.core.plugin.PluginRegistry plugins) {
        // qw_mode and qa_mode offer the quantizer modes the registry has (built-in and plugins'), by their uses
        Map<String, QuantizerProvider> modes = new LinkedHashMap<>();
        plugins.providers(QuantizerProvider.class).forEach(r -> modes.put(r.provider().name(), r.provider()));
        Map<String, ConfigKey> keys = new LinkedHashMap<>(KEYS);
        for (QuantizerProvider.Use use : QuantizerProvider.Use.values()) {
            ConfigKey k = modeKey(use, List.copyOf(modes.keySet()), m -> modes.get(m).uses());
            keys.put(k.name(), k);
        }
        ConfigSchema schema = new ConfigSchema(keys);
        for (org.fmsmo.api.plugin.ProviderKind kind : org.fmsmo.api.plugin.ProviderKind.values()) {
            for (var r : plugins.providers(kind.serviceType())) {
                schema = schema.with(r.plugin().id(), r.provider().configKeys());
            }
        }
        return schema;
    }

    /**
     * This schema and {@code keys}, owned by {@code owner} (a plugin id): how an application that
     * builds its providers itself, or a test, adds them.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} when a key is taken by the host or
     *         another owner, or declared twice differently, naming both
     */
    public ConfigSchema with(String owner, List<org.fmsmo.api.plugin.ConfigKeySpec> keys) {
        if (keys.isEmpty()) {
            return this;
        }
        Map<String, ConfigKey> all = new LinkedHashMap<>(this.keys);
        for (org.fmsmo.api.plugin.ConfigKeySpec spec : keys) {
            ConfigKey k = ConfigKey.of(spec, owner);
            ConfigKey taken = all.putIfAbsent(k.name(), k);
            if (taken != null && !(taken.owner().equals(owner) && taken.sameAs(k))) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "config key '" + k.name() + "' is declared by " + describe(taken)
                        + " and again by plugin '" + owner + "'; a key has one owner");
            }
        }
        return new ConfigSchema(all);
    }

    /** {@code qw_mode} or {@code qa_mode}: a choice of the modes whose uses include {@code use}. */
    private static ConfigKey modeKey(QuantizerProvider.Use use, List<String> modes, java.util.function.Function<String, Set<QuantizerProvider.Use>> uses) {
        boolean weights = use == QuantizerProvider.Use.WEIGHTS;
        return ConfigKey.choice(weights ? "qw_mode" : "qa_mode", weights ? "weight quantizer mode" : "activation quantizer mode",
                modes.stream().filter(m -> uses.apply(m).contains(use)).toArray(String[]::new));
    }

    private static String describe(ConfigKey k) {
        return k.owner().equals(ConfigKey.HOST) ? "the host" : "plugin '" + k.owner() + "'";
    }

    /** Every key, the host's first, in documentation order. */
    public List<ConfigKey> keys() {
        return List.copyOf(keys.values());
    }

    /**
     * The key of this name.
     *
     * @throws FmsmoException {@link ErrorCode#INVALID_ARGUMENT} naming the closest known keys
     */
    public ConfigKey key(String name, String where) {
        ConfigKey k = keys.get(name);
        if (k == null) {
            List<String> close = keys.keySet().stream().sorted(Comparator.comparingInt(n -> distance(n, name))).limit(3).toList();
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, where + ": unknown config key '" + name + "'; closest: " + close
                    + "; all keys: " + keys.keySet() + " (a plugin's keys are known when the plugin is installed: see fmsmo recipes --keys)");
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
