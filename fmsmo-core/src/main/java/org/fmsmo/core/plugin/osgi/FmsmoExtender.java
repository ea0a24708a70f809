package org.fmsmo.core.plugin.osgi;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginRegistry;
import org.fmsmo.core.plugin.PluginSource;
import org.fmsmo.core.plugin.internal.PluginAssembler;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.SynchronousBundleListener;

/**
 * fmsmo-core's bundle activator, an OSGi extender: when a bundle carrying a {@code Plugin-Id}
 * header starts, it checks the SPI range, reads the bundle's own {@code META-INF/services} files,
 * instantiates the providers through the bundle's class loader and registers them in the service
 * registry in the bundle's name (so they go away when it stops), with properties
 * {@code fmsmo.name} and {@code fmsmo.plugin.id}. Plugin jars need no OSGi code of their own.
 * It also keeps a {@link PluginRegistry} snapshot of the service registry registered as a service.
 */
public final class FmsmoExtender implements BundleActivator, SynchronousBundleListener {

    /** Service property holding the provider's name. */
    public static final String NAME_PROPERTY = "fmsmo.name";
    /** Service property holding the plugin id. */
    public static final String PLUGIN_PROPERTY = "fmsmo.plugin.id";

    private BundleContext context;
    private final Map<Long, List<ServiceRegistration<?>>> registrations = new LinkedHashMap<>();
    private final Map<Long, DiscoveredPlugin> skipped = new LinkedHashMap<>();
    private ServiceRegistration<PluginRegistry> registryRegistration;
    private PluginRegistry registry;

    @Override
    public synchronized void start(BundleContext ctx) {
        this.context = ctx;
        ctx.addBundleListener(this);
        for (Bundle b : ctx.getBundles()) {
            if (b.getState() == Bundle.ACTIVE) {
                added(b);
            }
        }
        publishRegistry();
    }

    @Override
    public synchronized void stop(BundleContext ctx) {
        ctx.removeBundleListener(this);
        registrations.keySet().stream().toList().forEach(this::removed);
        if (registryRegistration != null) {
            registryRegistration.unregister();
            registry.close();
        }
        context = null;
    }

    @Override
    public synchronized void bundleChanged(BundleEvent event) {
        if (context == null) {
            return;
        }
        switch (event.getType()) {
            case BundleEvent.STARTED -> added(event.getBundle());
            case BundleEvent.STOPPING -> removed(event.getBundle().getBundleId());
            default -> {
                return;
            }
        }
        publishRegistry();
    }

    private void added(Bundle b) {
        if (b.getHeaders().get(PluginDescriptor.ID) == null || registrations.containsKey(b.getBundleId())) {
            return;
        }
        String location = "bundle " + b.getSymbolicName() + " (" + b.getLocation() + ")";
        PluginDescriptor d;
        try {
            d = OsgiDiscovery.descriptor(b);
        } catch (FmsmoException e) {
            skipped.put(b.getBundleId(), DiscoveredPlugin.skipped(
                    PluginAssembler.unidentified(b.getSymbolicName(), PluginSource.OSGI, location, e.getMessage())));
            return;
        }
        PluginInfo info = PluginAssembler.info(d, PluginSource.OSGI, location);
        String mismatch = PluginAssembler.spiMismatch(d);
        if (mismatch != null) {
            skipped.put(b.getBundleId(), DiscoveredPlugin.skipped(info.skipped(mismatch)));
            return;
        }
        List<PluginAssembler.Candidate> candidates = new ArrayList<>();
        for (ProviderKind kind : ProviderKind.values()) {
            for (String className : serviceEntries(b, kind)) {
                candidates.add(new PluginAssembler.Candidate(kind, className,
                        () -> (NamedProvider) b.loadClass(className).getConstructor().newInstance()));
            }
        }
        DiscoveredPlugin p = PluginAssembler.assemble(info, candidates);
        if (p.info().status() == PluginInfo.Status.SKIPPED) {
            skipped.put(b.getBundleId(), p);
            return;
        }
        List<ServiceRegistration<?>> regs = new ArrayList<>();
        for (DiscoveredPlugin.Instance i : p.providers()) {
            Hashtable<String, Object> props = new Hashtable<>();
            props.put(NAME_PROPERTY, i.provider().name());
            props.put(PLUGIN_PROPERTY, d.id());
            regs.add(b.getBundleContext().registerService(i.kind().serviceType().getName(), i.provider(), props));
        }
        registrations.put(b.getBundleId(), regs);
    }

    private void removed(long bundleId) {
        skipped.remove(bundleId);
        List<ServiceRegistration<?>> regs = registrations.remove(bundleId);
        if (regs != null) {
            for (ServiceRegistration<?> r : regs) {
                try {
                    r.unregister();
                } catch (IllegalStateException ignored) {
                    // already unregistered by the framework when the bundle stopped
                }
            }
        }
    }

    private void publishRegistry() {
        PluginRegistry fresh = PluginRegistry.builder()
                .discovery(new OsgiDiscovery(context, List.copyOf(skipped.values()))).build();
        ServiceRegistration<PluginRegistry> old = registryRegistration;
        PluginRegistry oldRegistry = registry;
        registry = fresh;
        registryRegistration = context.registerService(PluginRegistry.class, fresh, null);
        if (old != null) {
            old.unregister();
            oldRegistry.close();
        }
    }

    private static List<String> serviceEntries(Bundle b, ProviderKind kind) {
        URL url = b.getEntry("META-INF/services/" + kind.serviceType().getName());
        if (url == null) {
            return List.of();
        }
        try (BufferedReader r = new BufferedReader(new InputStreamReader(url.openStream(), StandardCharsets.UTF_8))) {
            return r.lines().map(l -> l.replaceAll("#.*", "").trim()).filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
