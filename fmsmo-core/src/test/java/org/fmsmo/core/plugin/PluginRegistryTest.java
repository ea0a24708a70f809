package org.fmsmo.core.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.api.quant.QuantizerProvider;
import org.fmsmo.core.quant.QuantizerModes;
import org.junit.jupiter.api.Test;

class PluginRegistryTest {

    @Test
    void theApplicationLayerYieldsCoresBuiltIns() {
        try (PluginRegistry r = PluginRegistry.builder().application().build()) {
            PluginInfo core = r.plugins().stream().filter(p -> p.id().equals("fmsmo-core")).findFirst().orElseThrow();
            assertEquals(PluginSource.BUILT_IN, core.source());
            assertEquals(PluginInfo.Status.ACTIVE, core.status());
            assertEquals(List.of(ProviderKind.QUANTIZER, ProviderKind.LAYER_WRAPPER, ProviderKind.CHECKPOINT_FORMAT, ProviderKind.MODEL_ARCHITECTURE), core.kinds());
            assertTrue(r.names(ProviderKind.CHECKPOINT_FORMAT).contains("fms"), "the native format is a checkpoint format like the others");
            assertEquals(QuantizerModes.NAMES, r.names(ProviderKind.QUANTIZER));
            assertTrue(r.get(QuantizerProvider.class, "minmax") instanceof QuantizerModes.MinMax);
        }
    }

    private static PluginDiscovery fixed(String id, String location, QuantizerProvider... providers) {
        return () -> List.of(new DiscoveredPlugin(
                new PluginInfo(id, "1.0.0", ">=1.0.0", PluginSource.PLUGINS_DIR, location, PluginInfo.Status.ACTIVE, "",
                        java.util.Arrays.stream(providers).map(p -> new PluginInfo.Provided(ProviderKind.QUANTIZER, p.name())).toList()),
                java.util.Arrays.stream(providers).map(p -> new DiscoveredPlugin.Instance(ProviderKind.QUANTIZER, p)).toList()));
    }

    @Test
    void aDuplicateNameSkipsTheLaterPluginAndNamesBothLocations() {
        try (PluginRegistry r = PluginRegistry.builder()
                .discovery(fixed("first", "/plugins/first.jar", new QuantizerModes.Max()))
                .discovery(fixed("second", "/plugins/second.jar", new QuantizerModes.Max(), new QuantizerModes.MinMax()))
                .build()) {
            assertEquals(List.of("max"), r.names(ProviderKind.QUANTIZER), "nothing of the skipped plugin is registered");
            PluginInfo second = r.plugins().get(1);
            assertEquals(PluginInfo.Status.SKIPPED, second.status());
            assertTrue(second.reason().contains("duplicate quantizer name 'max'") && second.reason().contains("/plugins/first.jar")
                    && second.reason().contains("/plugins/second.jar"), second.reason());
            assertEquals(1, r.problems().size());
            FmsmoException strict = assertThrows(FmsmoException.class, r::requireNoProblems);
            assertEquals(ErrorCode.PLUGIN_LOAD_FAILED, strict.code());
        }
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        try (PluginRegistry r = PluginRegistry.builder().discovery(fixed("p", "/p.jar", new QuantizerModes.Max())).build()) {
            FmsmoException e = assertThrows(FmsmoException.class, () -> r.get(QuantizerProvider.class, "pact+"));
            assertEquals(ErrorCode.UNKNOWN_NAME, e.code());
            assertTrue(e.getMessage().startsWith("unknown quantizer 'pact+'; known: max"), e.getMessage());
        }
    }

    /** An activation-only mode of a plugin, with its own config key. */
    private static final class ClipMode implements QuantizerProvider {
        @Override
        public String name() {
            return "myclip";
        }

        @Override
        public boolean supports(org.fmsmo.api.quant.QuantSpec spec) {
            return true;
        }

        @Override
        public org.fmsmo.api.quant.Quantizer create(org.fmsmo.api.quant.QuantSpec spec) {
            throw new UnsupportedOperationException("not needed here");
        }

        @Override
        public java.util.Set<Use> uses() {
            return java.util.EnumSet.of(Use.ACTIVATIONS);
        }

        @Override
        public List<org.fmsmo.api.plugin.ConfigKeySpec> configKeys() {
            return List.of(org.fmsmo.api.plugin.ConfigKeySpec.number("myclip_quantile", 0.5, 1, "clip quantile"));
        }
    }

    /**
     * The config offers the modes the registry has, by use (a plugin's activation mode under
     * qa_mode only), and the plugins' keys; the host's own modes keep their uses.
     */
    @Test
    void theConfigSchemaOffersTheRegisteredModesAndPluginKeys() {
        try (PluginRegistry r = PluginRegistry.builder().application().discovery(fixed("clip", "/plugins/clip.jar", new ClipMode())).build()) {
            org.fmsmo.core.recipe.ConfigSchema schema = org.fmsmo.core.recipe.ConfigSchema.of(r);
            assertTrue(schema.key("qa_mode", "test").allowed().contains("myclip"));
            assertTrue(!schema.key("qw_mode", "test").allowed().contains("myclip"));
            assertTrue(schema.key("qw_mode", "test").allowed().contains("maxperCh") && !schema.key("qa_mode", "test").allowed().contains("maxperCh"));
            assertTrue(schema.key("qa_mode", "test").allowed().contains("pertokenmax") && !schema.key("qw_mode", "test").allowed().contains("pertokenmax"));
            assertEquals("clip", schema.key("myclip_quantile", "test").owner());
            org.fmsmo.api.quant.QuantConfig c = org.fmsmo.core.recipe.Recipes.qconfigInit("dq", java.util.Map.of("qa_mode", "myclip", "myclip_quantile", 0.99), schema);
            assertEquals("myclip", c.getString("qa_mode", null));
            FmsmoException e = assertThrows(FmsmoException.class, () -> org.fmsmo.core.recipe.Recipes.qconfigInit("dq", java.util.Map.of("qa_mode", "myclip")));
            assertTrue(e.getMessage().contains("'qa_mode' must be one of"), e.getMessage());
        }
    }
}
