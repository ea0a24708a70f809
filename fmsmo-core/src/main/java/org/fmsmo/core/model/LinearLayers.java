package org.fmsmo.core.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.core.nn.Module;

/** The checks every {@link org.fmsmo.api.model.QuantizableModel} makes on lookups and swaps, with one wording. */
final class LinearLayers {

    private LinearLayers() {
    }

    /** Every linear layer under {@code root} (whose own path is {@code prefix}), in forward order. */
    static List<LinearLayer> all(Module root, String prefix) {
        List<LinearLayer> out = new ArrayList<>();
        root.forEachLinear(prefix, (name, layer) -> out.add(layer));
        return out;
    }

    /** The linear layer called {@code name} under {@code root}, or the {@link #unknown} error naming {@code where}. */
    static LinearLayer find(Module root, String prefix, String name, String where) {
        Map<String, LinearLayer> all = new LinkedHashMap<>();
        root.forEachLinear(prefix, all::put);
        LinearLayer l = all.get(name);
        if (l == null) {
            throw unknown(name, where, all.keySet());
        }
        return l;
    }

    /** The error for a name that is not a linear layer, listing some that are. */
    static FmsmoException unknown(String name, String architecture, Collection<String> known) {
        List<String> some = known.stream().limit(8).toList();
        return new FmsmoException(ErrorCode.UNKNOWN_NAME, "no linear layer '" + name + "' in " + architecture + "; known: " + some
                + (known.size() > some.size() ? " and " + (known.size() - some.size()) + " more" : ""));
    }

    /** A replacement must keep the layer's name and feature counts. */
    static void checkReplacement(LinearLayer old, LinearLayer replacement) {
        if (!replacement.name().equals(old.name()) || replacement.inFeatures() != old.inFeatures()
                || replacement.outFeatures() != old.outFeatures()) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "replacement for " + old.name() + " must keep its name and shape ["
                    + old.outFeatures() + ", " + old.inFeatures() + "], found " + replacement.name() + " ["
                    + replacement.outFeatures() + ", " + replacement.inFeatures() + "]");
        }
    }
}
