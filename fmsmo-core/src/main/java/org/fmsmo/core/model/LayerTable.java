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
            throw LinearLayers.unknown(name, architecture, layers.keySet());
        }
        return l;
    }

    @Override
    public void replace(String name, LinearLayer replacement) {
        LinearLayers.checkReplacement(linear(name), replacement);
        layers.put(name, replacement);
    }

    @Override
    public NDManager manager() {
        return manager;
    }
}
