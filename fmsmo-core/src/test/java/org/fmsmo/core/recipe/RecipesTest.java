package org.fmsmo.core.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.core.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipesTest {

    @TempDir
    Path tmp;

    /** A plugin's keys as its provider would declare them. */
    private static final ConfigSchema WITH_PLUGIN = ConfigSchema.core().with("my-plugin", List.of(
            ConfigKeySpec.number("my_lr", 0, 1, "a learning rate"), ConfigKeySpec.choice("my_mode", "a mode", "fast", "exact"),
            ConfigKeySpec.integer("seed", 0, Integer.MAX_VALUE, "a seed")));

    @Test
    void builtInRecipesLoadWithTheirFmsMoKeys() {
        QuantConfig dq = Recipes.qconfigInit("dq", Map.of());
        assertTrue(dq.getBoolean("smoothq", false));
        assertEquals(0.65, dq.getDouble("smoothq_alpha", 0));
        assertEquals("pertokenmax", dq.getString("qa_mode", null));
        assertEquals("maxperCh", Recipes.qconfigInit("ptq_int8", Map.of()).getString("qw_mode", null));
    }

    @Test
    void overridesWinAndAreCanonicalised() {
        QuantConfig c = Recipes.qconfigInit("ptq_int8", Map.of("nbits_w", "4", "qw_mode", "sawb+", "smoothq_alpha", "0.5",
                "qskip_layer_name", "lm_head, model.layers.0.mlp.down_proj",
                "qspecial_layers", Map.of("model.layers.3.mlp.down_proj", Map.of("nbits_w", 8))));
        assertEquals(4, c.settings().get("nbits_w"));
        assertEquals(0.5, c.settings().get("smoothq_alpha"));
        assertEquals(List.of("lm_head", "model.layers.0.mlp.down_proj"), c.settings().get("qskip_layer_name"));
        assertEquals(Map.of("model.layers.3.mlp.down_proj", Map.of("nbits_w", 8)), c.settings().get("qspecial_layers"));
    }

    @Test
    void unknownKeysAndValuesListWhatIsAllowed() {
        FmsmoException key = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("nbit_w", 4)));
        assertEquals(ErrorCode.INVALID_ARGUMENT, key.code());
        assertTrue(key.getMessage().contains("unknown config key 'nbit_w'") && key.getMessage().contains("nbits_w"), key.getMessage());

        FmsmoException mode = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("qa_mode", "pactplus")));
        assertTrue(mode.getMessage().contains("'qa_mode' must be one of [pact, pact+"), mode.getMessage());

        FmsmoException bits = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("nbits_a", 9)));
        assertTrue(bits.getMessage().contains("[2, 3, 4, 5, 6, 7, 8, 32]"), bits.getMessage());

        FmsmoException alpha = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("smoothq_alpha", 1.5)));
        assertTrue(alpha.getMessage().contains("[0.0, 1.0]"), alpha.getMessage());

        // NaN fails every comparison, so a check written as "below min or above max" let it through (GPTQ then never ended)
        for (String name : List.of("smoothq_alpha", "my_lr")) {
            for (String v : List.of("NaN", "Infinity", "-Infinity")) {
                FmsmoException e = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of(name, v), WITH_PLUGIN), name + "=" + v);
                assertTrue(e.getMessage().contains("'" + name + "'") && e.getMessage().contains("a number in ["), e.getMessage());
            }
        }

        FmsmoException special = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq",
                Map.of("qspecial_layers", Map.of("lm_head", Map.of("smoothq", true)))));
        assertTrue(special.getMessage().contains("may override"), special.getMessage());

        FmsmoException recipe = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("int3_magic", Map.of()));
        assertEquals(ErrorCode.UNKNOWN_NAME, recipe.code());
        assertTrue(recipe.getMessage().contains("[qat_int8, ptq_int8, dq, fp8_dynamic, fp8_static]"), recipe.getMessage());
    }

    /**
     * A plugin's keys work in recipes and overrides as the host's do, and only where the plugin is
     * installed: the qat_int8 recipe holds QAT's keys, which the host alone does not know.
     */
    @Test
    void pluginKeysAreCheckedLikeTheHostsAndUnknownWithoutThePlugin() throws Exception {
        QuantConfig c = Recipes.qconfigInit("dq", Map.of("my_lr", "0.25", "my_mode", "fast", "seed", "42"), WITH_PLUGIN);
        assertEquals(0.25, c.settings().get("my_lr"));
        assertEquals(42, c.settings().get("seed"));
        FmsmoException mode = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("my_mode", "slow"), WITH_PLUGIN));
        assertTrue(mode.getMessage().contains("'my_mode' must be one of [fast, exact]"), mode.getMessage());
        FmsmoException near = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("dq", Map.of("my_lrr", 0.1), WITH_PLUGIN));
        assertTrue(near.getMessage().contains("closest: [my_lr"), near.getMessage());
        Path recipe = Files.writeString(tmp.resolve("plugin.json"), "{\"description\": \"x\", \"config\": {\"nbits_w\": 4, \"my_mode\": \"exact\"}}");
        assertEquals("exact", Recipes.qconfigInit(recipe.toString(), Map.of(), WITH_PLUGIN).getString("my_mode", null));

        FmsmoException qat = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit("qat_int8", Map.of()));
        assertTrue(qat.getMessage().contains("unknown config key 'pact_a_lr'") && qat.getMessage().contains("fmsmo recipes --keys"), qat.getMessage());

        FmsmoException taken = assertThrows(FmsmoException.class, () -> WITH_PLUGIN.with("other", List.of(ConfigKeySpec.flag("my_lr", "again"))));
        assertTrue(taken.getMessage().contains("plugin 'my-plugin'") && taken.getMessage().contains("plugin 'other'"), taken.getMessage());
        FmsmoException host = assertThrows(FmsmoException.class, () -> ConfigSchema.core().with("other", List.of(ConfigKeySpec.flag("smoothq", "mine"))));
        assertTrue(host.getMessage().contains("declared by the host"), host.getMessage());
    }

    @Test
    void savedConfigsReloadIdenticallyAndUserRecipeFilesWork() throws Exception {
        QuantConfig c = Recipes.qconfigInit("ptq_int8", Map.of("qskip_layer_name", List.of("lm_head"), "my_mode", "exact",
                "qspecial_layers", Map.of("model.layers.0.self_attn.q_proj", Map.of("nbits_w", 4, "qw_mode", "maxperGp"))), WITH_PLUGIN);
        Path file = tmp.resolve(Recipes.CONFIG_FILE);
        Recipes.write(c, file);
        assertEquals(c, Recipes.read(file, WITH_PLUGIN));
        FmsmoException withoutPlugin = assertThrows(FmsmoException.class, () -> Recipes.read(file, ConfigSchema.core()));
        assertTrue(withoutPlugin.getMessage().contains("unknown config key 'my_mode'"), withoutPlugin.getMessage());

        Path mine = Files.writeString(tmp.resolve("mine.json"), "{\"description\": \"w4a8\", \"config\": {\"nbits_w\": 4, \"qw_mode\": \"sawb+\"}}");
        assertEquals(4, Recipes.qconfigInit(mine.toString(), Map.of()).getInt("nbits_w", 0));
        Path misspelt = Files.writeString(tmp.resolve("misspelt.json"), "{\"config\": {\"nbits_w\": 4}, \"confg\": {\"nbits_a\": 4}}");
        FmsmoException top = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit(misspelt.toString(), Map.of()));
        assertTrue(top.getMessage().contains("unknown top-level key(s) [confg]") && top.getMessage().contains("[description, config]"),
                top.getMessage());
        Path latin1 = Files.write(tmp.resolve("latin1.json"), "{\"description\": \"caf\u00e9\", \"config\": {}}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        FmsmoException notUtf8 = assertThrows(FmsmoException.class, () -> Recipes.qconfigInit(latin1.toString(), Map.of()));
        assertEquals(ErrorCode.CORRUPT_INPUT, notUtf8.code());
        assertTrue(notUtf8.getMessage().contains("is not UTF-8 text: byte 0xE9 at offset 20"), notUtf8.getMessage());
        Path broken = Files.writeString(tmp.resolve("broken.json"), "{\"config\": {\"nbits_w\": 4,");
        assertEquals(ErrorCode.CORRUPT_INPUT, assertThrows(FmsmoException.class, () -> Recipes.qconfigInit(broken.toString(), Map.of())).code());
    }

    @Test
    void recipesCommandShowsAConfigWithOverrides() {
        StringWriter out = new StringWriter();
        int status = Main.run(new String[] {"recipes", "dq", "-s", "smoothq_alpha=0.5", "--json"}, new PrintWriter(out, true),
                new PrintWriter(new StringWriter(), true));
        assertEquals(0, status);
        assertTrue(out.toString().contains("\"smoothq_alpha\" : 0.5"), out.toString());
        StringWriter err = new StringWriter();
        assertEquals(2, Main.run(new String[] {"recipes", "dq", "-s", "qa_mode=nope"}, new PrintWriter(new StringWriter()),
                new PrintWriter(err, true)));
        assertTrue(err.toString().startsWith("error: "), err.toString());
    }
}
