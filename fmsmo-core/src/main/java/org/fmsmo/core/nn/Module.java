package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.model.LinearLayer;

/**
 * A node of a model's module tree, named as in Hugging Face checkpoints. A module owns
 * parameters, sub-modules and linear layers, in registration order (which the architectures keep
 * equal to forward order). Linear layers sit in named slots that a quantization method can swap
 * for a wrapper ({@link #replaceLinear}), the way PyTorch code replaces an attribute; forward
 * code always reads a slot through {@link #slot(String)}, so a swap takes effect on the next call.
 */
public abstract class Module {

    /** Sub-modules ({@link Module}), linear slots ({@link LinearLayer}) and parameters ({@link NDArray}). */
    private final Map<String, Object> members = new LinkedHashMap<>();

    /** Registers a sub-module under a local name ({@code self_attn}, {@code 0}). */
    protected final <M extends Module> M addModule(String name, M module) {
        register(name, module);
        return module;
    }

    /** Registers a linear layer slot under a local name ({@code q_proj}). */
    protected final void addLinear(String name, LinearLayer layer) {
        register(name, layer);
    }

    /** Registers a parameter owned directly by this module ({@code weight}). */
    protected final NDArray addParameter(String name, NDArray value) {
        register(name, value);
        return value;
    }

    private void register(String name, Object member) {
        if (members.putIfAbsent(name, Objects.requireNonNull(member)) != null) {
            throw new IllegalStateException("'" + name + "' registered twice in " + getClass().getSimpleName());
        }
    }

    /**
     * The layer now in a slot (the original or its replacement); {@code path} may go through
     * children ({@code attention.self.query}).
     */
    protected final LinearLayer slot(String path) {
        int dot = path.indexOf('.');
        Object m = members.get(dot < 0 ? path : path.substring(0, dot));
        if (dot >= 0 && m instanceof Module child) {
            return child.slot(path.substring(dot + 1));
        }
        if (dot < 0 && m instanceof LinearLayer l) {
            return l;
        }
        throw new IllegalStateException("no linear slot '" + path + "' in " + getClass().getSimpleName());
    }

    /**
     * Swaps the layer in a slot, given the slot's full path from this module.
     *
     * @return the layer that was there
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} when no slot has that path
     */
    public final LinearLayer replaceLinear(String path, LinearLayer replacement) {
        int dot = path.indexOf('.');
        Object m = members.get(dot < 0 ? path : path.substring(0, dot));
        if (dot >= 0 && m instanceof Module child) {
            return child.replaceLinear(path.substring(dot + 1), replacement);
        }
        if (dot < 0 && m instanceof LinearLayer old) {
            members.put(path, Objects.requireNonNull(replacement));
            return old;
        }
        throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "no linear layer at '" + path + "'");
    }

    /** Visits every linear slot depth-first in registration (= forward) order with its full path. */
    public final void forEachLinear(String prefix, BiConsumer<String, LinearLayer> visitor) {
        members.forEach((n, m) -> {
            if (m instanceof LinearLayer l) {
                visitor.accept(join(prefix, n), l);
            } else if (m instanceof Module child) {
                child.forEachLinear(join(prefix, n), visitor);
            }
        });
    }

    /** Visits every float parameter with its checkpoint name, a linear slot's as {@code name.weight} and {@code name.bias}. */
    public final void forEachParameter(String prefix, BiConsumer<String, NDArray> visitor) {
        members.forEach((n, m) -> {
            String path = join(prefix, n);
            switch (m) {
                case NDArray p -> visitor.accept(path, p);
                case LinearLayer l -> {
                    visitor.accept(path + ".weight", l.weight());
                    l.bias().ifPresent(b -> visitor.accept(path + ".bias", b));
                }
                case Module child -> child.forEachParameter(path, visitor);
                default -> throw new IllegalStateException("unexpected member " + m.getClass());
            }
        });
    }

    private static String join(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }
}
