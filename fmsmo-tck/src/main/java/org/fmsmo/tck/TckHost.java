package org.fmsmo.tck;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.PluginSource;
import org.fmsmo.core.synthetic.ModelShape;
import org.fmsmo.core.synthetic.SyntheticModel;

/** What the kits share: a tiny Llama checkpoint of real structure and a registry holding the providers under test. */
final class TckHost {

    /** Llama-shaped: 2 blocks, grouped-query attention, untied head; every linear's input width divides by 8. */
    static final ModelShape TINY_LLAMA = new ModelShape("tck-llama", "llama", "LlamaForCausalLM", 256, 64, 128, 2, 4, 2, false, false,
            10000.0, 128, 1e-5, null);

    private TckHost() {
    }

    /** Writes the tiny Llama (BF16, with a tokenizer) into a new folder under {@code parent}. */
    static Path tinyLlama(Path parent) throws IOException {
        Path dir = Files.createTempDirectory(parent, "tck-llama-");
        Files.delete(dir);
        return SyntheticModel.write(dir, TINY_LLAMA, 5, SyntheticModel.HUB_SHARD_BYTES);
    }

    /**
     * The application's providers (built-ins and whatever the test class path holds), plus
     * {@code providers} as one plugin when the application does not already provide them.
     */
    static PluginRegistry registry(ProviderKind kind, NamedProvider... providers) {
        return registry(() -> PluginRegistry.builder().application(), kind, providers);
    }

    /** As {@link #registry(ProviderKind, NamedProvider...)}, over the plugins {@code host} finds. */
    static PluginRegistry registry(java.util.function.Supplier<PluginRegistry.Builder> host, ProviderKind kind, NamedProvider... providers) {
        return registry(host, java.util.Map.of(kind, List.of(providers)));
    }

    /** The application's providers plus {@code providers}, of several kinds, as one plugin (those the application lacks). */
    static PluginRegistry registry(java.util.function.Supplier<PluginRegistry.Builder> host,
                                   java.util.Map<ProviderKind, List<? extends NamedProvider>> providers) {
        PluginRegistry.Builder b = host.get();
        try (PluginRegistry probe = host.get().build()) {
            List<PluginInfo.Provided> provided = new java.util.ArrayList<>();
            List<DiscoveredPlugin.Instance> instances = new java.util.ArrayList<>();
            providers.forEach((kind, list) -> list.stream().filter(p -> !probe.names(kind).contains(p.name())).forEach(p -> {
                provided.add(new PluginInfo.Provided(kind, p.name()));
                instances.add(new DiscoveredPlugin.Instance(kind, p));
            }));
            if (!instances.isEmpty()) {
                b.discovery(() -> List.of(new DiscoveredPlugin(
                        new PluginInfo("under-test", "0.0.0", ">=1.0.0", PluginSource.CLASS_PATH, "test class path", PluginInfo.Status.ACTIVE, "",
                                provided), instances)));
            }
        }
        return b.build();
    }
}
