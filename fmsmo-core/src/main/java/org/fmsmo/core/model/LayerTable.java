package org.fmsmo.core.model;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;

/**
 * The simplest {@link QuantizableModel}: an ordered table of named linear layers. It is what a
 * quantization method sees of any model, and on its own it serves weight-only tools that need no
 * forward pass through the whole network.
 */
public final class LayerTable implements QuantizableModel {

    private final String architecture;
    private final NDManager manager;
    private final Map<String, LinearLayer> layers = new LinkedHashMap<>();

    /**
     * @param architecture a name for messages and checkpoints
     * @param manager      owns the layers' arrays
     * @param layers       in forward order; names unique
     */
    public LayerTable(String architecture, NDManager manager, List<? extends LinearLayer> layers) {
        this.architecture = Objects.requireNonNull(architecture, "architecture");
        this.manager = Objects.requireNonNull(manager, "manager");
        for (LinearLayer l : layers) {
            if (this.layers.putIfAbsent(l.name(), l) != null) {
                throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "two layers named '" + l.name() + "'");
            }
        }
    }

    @Override
    public String architecture() {
        return architecture;
    }

    @Override
    public List<LinearLayer> linearLayers() {
        return new ArrayList<>(layers.values());
    }

    @Override
    public LinearLayer linear(String name) {
        LinearLayer l = layers.get(name);
        if (l == null) {
            List<String> known = layers.keySet().stream().limit(8).toList();
            throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "no linear layer '" + name + "' in " + architecture + "; known: "
                    + known + (layers.size() > known.size() ? " and " + (layers.size() - known.size()) + " more" : ""));
        }
        return l;
    }

    @Override
    public void replace(String name, LinearLayer replacement) {
        LinearLayer old = linear(name);
        if (!replacement.name().equals(name) || replacement.inFeatures() != old.inFeatures() || replacement.outFeatures() != old.outFeatures()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "replacement for " + name + " must keep its name and shape ["
                    + old.outFeatures() + ", " + old.inFeatures() + "], found " + replacement.name() + " ["
                    + replacement.outFeatures() + ", " + replacement.inFeatures() + "]");
        }
        layers.put(name, replacement);
    }

    @Override
    public NDManager manager() {
        return manager;
    }
}
