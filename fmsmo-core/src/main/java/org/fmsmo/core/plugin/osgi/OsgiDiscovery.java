package org.fmsmo.core.plugin.osgi;

import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginDiscovery;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginSource;
import org.fmsmo.core.plugin.internal.PluginAssembler;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * Providers registered in an OSGi service registry under the SPI interface names (by
 * {@link FmsmoExtender} for plugin bundles, or by any bundle itself), grouped by the bundle that
 * registered them; plus the plugin bundles the extender had to skip.
 */
public final class OsgiDiscovery implements PluginDiscovery {

    private final BundleContext context;
    private final List<DiscoveredPlugin> skipped;
    private final List<ServiceReference<?>> held = new ArrayList<>();

    /**
     * @param context the context to query (and to get services through)
     * @param skipped plugin bundles found unusable, reported as skipped
     */
    public OsgiDiscovery(BundleContext context, List<DiscoveredPlugin> skipped) {
        this.context = context;
        this.skipped = List.copyOf(skipped);
    }

    private record Found(ProviderKind kind, ServiceReference<?> ref) {
    }

    @Override
    public List<DiscoveredPlugin> discover() {
        Map<Bundle, List<Found>> byBundle = new LinkedHashMap<>();
        for (ProviderKind kind : ProviderKind.values()) {
            ServiceReference<?>[] refs;
            try {
                refs = context.getServiceReferences(kind.serviceType().getName(), null);
            } catch (InvalidSyntaxException e) {
                throw new IllegalStateException(e); // no filter is passed
            }
            if (refs != null) {
                for (ServiceReference<?> r : refs) {
                    byBundle.computeIfAbsent(r.getBundle(), b -> new ArrayList<>()).add(new Found(kind, r));
                }
            }
        }
        List<DiscoveredPlugin> result = new ArrayList<>();
        for (Map.Entry<Bundle, List<Found>> e : byBundle.entrySet()) {
            Bundle b = e.getKey();
            PluginInfo info = info(b);
            List<PluginAssembler.Candidate> candidates = new ArrayList<>();
            for (Found f : e.getValue()) {
                candidates.add(new PluginAssembler.Candidate(f.kind(), String.valueOf(f.ref().getProperty("objectClass")), () -> {
                    held.add(f.ref());
                    return (NamedProvider) context.getService(f.ref());
                }));
            }
            result.add(PluginAssembler.assemble(info, candidates));
        }
        result.addAll(skipped);
        return result;
    }

    /** The bundle's descriptor as plugin info; bundles without one are named by their symbolic name. */
    static PluginInfo info(Bundle b) {
        String location = "bundle " + b.getSymbolicName() + " (" + b.getLocation() + ")";
        try {
            return PluginAssembler.info(descriptor(b), PluginSource.OSGI, location);
        } catch (FmsmoException e) {
            return new PluginInfo(b.getSymbolicName(), b.getVersion().toString(), "?", PluginSource.OSGI, location,
                    PluginInfo.Status.ACTIVE, "", List.of());
        }
    }

    /** The plugin descriptor from a bundle's manifest headers. */
    static PluginDescriptor descriptor(Bundle b) {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        Dictionary<String, String> headers = b.getHeaders();
        for (Enumeration<String> keys = headers.keys(); keys.hasMoreElements(); ) {
            String k = keys.nextElement();
            a.putValue(k, headers.get(k));
        }
        return PluginDescriptor.fromManifest(m, "bundle " + b.getSymbolicName() + " (" + b.getLocation() + ")");
    }

    @Override
    public void close() {
        for (ServiceReference<?> r : held) {
            try {
                context.ungetService(r);
            } catch (IllegalStateException ignored) {
                // the context is already invalid: the framework has released everything
            }
        }
        held.clear();
    }
}
