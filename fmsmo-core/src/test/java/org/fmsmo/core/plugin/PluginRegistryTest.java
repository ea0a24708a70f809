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
            assertEquals(List.of(ProviderKind.QUANTIZER, ProviderKind.LAYER_WRAPPER), core.kinds());
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
}
