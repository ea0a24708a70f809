package org.fmsmo.core.plugin.internal;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.fmsmo.api.SpiVersion;
import org.fmsmo.api.plugin.NamedProvider;
import org.fmsmo.api.plugin.PluginDescriptor;
import org.fmsmo.api.plugin.ProviderKind;
import org.fmsmo.core.plugin.DiscoveredPlugin;
import org.fmsmo.core.plugin.PluginInfo;
import org.fmsmo.core.plugin.PluginSource;

/**
 * The checks every discovery applies the same way: the descriptor's SPI range before any plugin
 * code runs, then instantiation of each provider (a throwing constructor skips the plugin), then
 * valid and distinct names.
 */
public final class PluginAssembler {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]*");

    /**
     * A provider class a plugin declares, not yet instantiated.
     *
     * @param kind      its extension point
     * @param className for messages
     * @param factory   creates the instance (may throw anything)
     */
    public record Candidate(ProviderKind kind, String className, Factory factory) {
    }

    /** Creates one provider instance; may throw whatever the plugin's constructor throws. */
    @FunctionalInterface
    public interface Factory {
        /** A new instance. */
        NamedProvider create() throws Exception;
    }

    private PluginAssembler() {
    }

    /** Basic info for a plugin with a descriptor; status active, no providers yet. */
    public static PluginInfo info(PluginDescriptor d, PluginSource source, String location) {
        return new PluginInfo(d.id(), d.version().toString(), d.requires().toString(), source, location,
                PluginInfo.Status.ACTIVE, "", List.of());
    }

    /** Info for something that has no readable descriptor; skipped with {@code reason}. */
    public static PluginInfo unidentified(String fallbackId, PluginSource source, String location, String reason) {
        return new PluginInfo(fallbackId, "?", "?", source, location, PluginInfo.Status.SKIPPED, reason, List.of());
    }

    /** Empty when the host's SPI satisfies the descriptor, else the reason to skip. */
    public static String spiMismatch(PluginDescriptor d) {
        if (d.requires().contains(SpiVersion.current())) {
            return null;
        }
        return "requires fmsmo SPI " + d.requires() + " but this host provides SPI " + SpiVersion.current();
    }

    /** Instantiates every candidate; the first failure skips the whole plugin with its cause. */
    public static DiscoveredPlugin assemble(PluginInfo base, List<Candidate> candidates) {
        List<DiscoveredPlugin.Instance> instances = new ArrayList<>();
        List<PluginInfo.Provided> provided = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Candidate c : candidates) {
            NamedProvider p;
            try {
                p = c.factory().create();
            } catch (Throwable t) { // a plugin's constructor may throw anything; the host must survive it
                return DiscoveredPlugin.skipped(withProvides(base, provided).skipped(
                        c.kind().label() + " provider " + c.className() + " failed to construct: " + describe(t)));
            }
            String name = safeName(p);
            if (name == null || !NAME.matcher(name).matches()) {
                return DiscoveredPlugin.skipped(withProvides(base, provided).skipped(c.kind().label() + " provider " + c.className()
                        + " has an invalid name '" + name + "': expected letters, digits, '.', '_', '+', '-'"));
            }
            if (!seen.add(c.kind() + "/" + name)) {
                return DiscoveredPlugin.skipped(withProvides(base, provided).skipped(
                        "declares two " + c.kind().label() + " providers named '" + name + "'"));
            }
            instances.add(new DiscoveredPlugin.Instance(c.kind(), p));
            provided.add(new PluginInfo.Provided(c.kind(), name));
        }
        return new DiscoveredPlugin(withProvides(base, provided), instances);
    }

    private static String safeName(NamedProvider p) {
        try {
            return p.name();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static PluginInfo withProvides(PluginInfo i, List<PluginInfo.Provided> provided) {
        return new PluginInfo(i.id(), i.version(), i.requires(), i.source(), i.location(), i.status(), i.reason(), provided);
    }

    /** "Type: message", unwrapping reflection and service-loader wrappers to the plugin's own exception. */
    public static String describe(Throwable t) {
        Throwable cause = t;
        while ((cause instanceof InvocationTargetException || cause instanceof java.util.ServiceConfigurationError
                || cause instanceof ExceptionInInitializerError || cause instanceof org.pf4j.PluginRuntimeException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        String msg = cause.getMessage();
        return cause.getClass().getName() + (msg == null ? "" : ": " + msg);
    }
}
