package org.fmsmo.core.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.deploy.Availability;
import org.fmsmo.api.deploy.DeployBackend;
import org.fmsmo.api.deploy.DeployBackendProvider;
import org.fmsmo.core.plugin.PluginRegistry;
import picocli.CommandLine.Option;

/** Which deploy backend a command runs on, and that backend's options ({@code eval}, {@code bench}). */
final class BackendOptions {

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Deploy backend to run the frozen quantized layers on (e.g. cpu-reference); `fmsmo plugins` lists them.")
    String name;

    @Option(names = "--backend-option", paramLabel = "KEY=VALUE",
            description = "Backend option, repeatable (cpu-reference: chunk_size, max_acc_bits, truncate_lsb, accumulate); `fmsmo plugins` lists each backend's.")
    Map<String, String> options = new LinkedHashMap<>();

    /** Whether a backend was asked for; options without one are an error. */
    boolean selected() {
        if (name == null && !options.isEmpty()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--backend-option " + options.keySet() + " needs --backend NAME");
        }
        return name != null;
    }

    /**
     * The backend, created with the options; an unavailable one is an error with its reason.
     *
     * @throws FmsmoException {@link ErrorCode#BACKEND_UNAVAILABLE}, or {@link ErrorCode#INVALID_ARGUMENT} for a bad option
     */
    DeployBackend open(PluginRegistry registry) {
        DeployBackendProvider provider = registry.get(DeployBackendProvider.class, name);
        Availability availability = provider.availability();
        if (!availability.available()) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, "backend " + name + " is unavailable: " + availability.reason());
        }
        return provider.create(Map.copyOf(options));
    }

    /** The backend's name with its options, for reports ({@code cpu-reference {max_acc_bits=16}}). */
    String label() {
        return options.isEmpty() ? name : name + " " + new java.util.TreeMap<>(options);
    }
}
