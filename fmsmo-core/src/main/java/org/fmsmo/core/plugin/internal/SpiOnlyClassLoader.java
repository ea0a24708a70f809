package org.fmsmo.core.plugin.internal;

import java.io.IOException;
import java.net.URL;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * The parent of every plugin class loader: it shows a plugin the JDK (through the platform
 * loader), fmsmo's SPI and DJL (through the host), and nothing else. Core's internals, the host
 * application's libraries and other plugins stay invisible, so a plugin can only talk to the host
 * through the SPI and cannot clash with the host's versions of libraries it bundles itself.
 */
final class SpiOnlyClassLoader extends ClassLoader {

    /** Package prefixes shared from the host, with their resource-path forms. */
    private static final List<String> SHARED_PACKAGES = List.of("org.fmsmo.api.", "ai.djl.");
    private static final List<String> SHARED_RESOURCES = List.of("org/fmsmo/api/", "ai/djl/");

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader host;

    SpiOnlyClassLoader(ClassLoader host) {
        super("fmsmo-plugin-parent", ClassLoader.getPlatformClassLoader());
        this.host = host;
    }

    static boolean isShared(String className) {
        return SHARED_PACKAGES.stream().anyMatch(className::startsWith);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (isShared(name)) {
            return host.loadClass(name);
        }
        return super.loadClass(name, resolve); // platform loader: JDK modules only
    }

    @Override
    public URL getResource(String name) {
        return sharedResource(name) ? host.getResource(name) : super.getResource(name);
    }

    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
        // Never expose the host's META-INF/services: a plugin must find only its own providers.
        return sharedResource(name) ? host.getResources(name) : getPlatformResources(name);
    }

    private Enumeration<URL> getPlatformResources(String name) throws IOException {
        Enumeration<URL> urls = getParent().getResources(name);
        return urls == null ? Collections.emptyEnumeration() : urls;
    }

    private static boolean sharedResource(String name) {
        return SHARED_RESOURCES.stream().anyMatch(name::startsWith);
    }
}
