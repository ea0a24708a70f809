package org.fmsmo.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.core.recipe.ConfigKey;
import org.fmsmo.core.recipe.ConfigSchema;
import org.fmsmo.core.recipe.Recipes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code fmsmo recipes}: the built-in recipes, one recipe's effective config, or every config key. */
@Command(name = "recipes", description = "List the built-in recipes, show one (with -s key=value overrides), or list every config key (--keys).")
final class RecipesCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "RECIPE", description = "A built-in recipe name or a recipe .json file.")
    String recipe;

    @Option(names = {"-s", "--set"}, paramLabel = "KEY=VALUE", description = "Override a key (repeatable).")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--keys", description = "List every config key with its allowed values.")
    boolean keys;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @picocli.CommandLine.Mixin
    PluginOptions plugins;

    @Override
    public Integer call() throws Exception {
        try (org.fmsmo.core.plugin.PluginRegistry registry = plugins.openRegistry()) {
            plugins.checkStrict(registry);
            return run(ConfigSchema.of(registry), spec.commandLine().getOut());
        }
    }

    private int run(ConfigSchema schema, PrintWriter out) throws Exception {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        if (keys) {
            // grouped by owner: the host's keys, then each plugin's
            Map<String, java.util.List<ConfigKey>> byOwner = new LinkedHashMap<>();
            schema.keys().forEach(k -> byOwner.computeIfAbsent(k.owner(), o -> new java.util.ArrayList<>()).add(k));
            if (json) {
                Map<String, Object> root = new LinkedHashMap<>();
                byOwner.forEach((owner, ks) -> root.put(owner, ks.stream().map(RecipesCommand::json).toList()));
                out.println(mapper.writeValueAsString(root));
                return 0;
            }
            byOwner.forEach((owner, ks) -> {
                out.println(owner.equals(ConfigKey.HOST) ? "# fmsmo (host)" : "# plugin " + owner);
                for (ConfigKey k : ks) {
                    out.printf("%-22s %s%n%-22s   %s%n", k.name(), k.description(), "", allowed(k));
                }
            });
        } else if (recipe == null) {
            for (String r : Recipes.BUILT_IN) {
                out.printf("%-10s %s%n", r, Recipes.description(r));
            }
        } else {
            QuantConfig c = Recipes.qconfigInit(recipe, overrides, schema);
            if (json) {
                out.println(mapper.writeValueAsString(c.settings()));
            } else {
                c.settings().forEach((k, v) -> out.printf("%-22s %s%n", k, v));
            }
        }
        return 0;
    }

    private static String allowed(ConfigKey k) {
        return !k.allowed().isEmpty() ? k.allowed().toString()
                : k.kind() == ConfigKey.Kind.INT || k.kind() == ConfigKey.Kind.NUMBER ? "[" + k.min() + ", " + k.max() + "]" : k.kind().name().toLowerCase();
    }

    private static Map<String, Object> json(ConfigKey k) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", k.name());
        m.put("type", k.kind().name().toLowerCase());
        m.put("allowed", allowed(k));
        m.put("description", k.description());
        return m;
    }
}
