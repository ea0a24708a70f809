package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
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

    /** Sub-modules ({@link Module}), linear slots ({@link LinearLayer}), matmul slots ({@link Bmm}) and parameters ({@link NDArray}). */
    private final Map<String, Object> members = new LinkedHashMap<>();

    /** This module's full path from the model root, set by {@link #assignPaths}. */
    private String path = "";

    /** Where {@link #step}s are remembered; null: each is computed. */
    private StepMemo memo;

    /** The module's path from the model root ({@code model.layers.0.input_layernorm}); "" for the root. */
    public final String path() {
        return path;
    }

    /** Gives this module and every descendant its full path; the model calls it once built. */
    public final void assignPaths(String prefix) {
        this.path = prefix;
        members.forEach((n, m) -> {
            if (m instanceof Module child) {
                child.assignPaths(join(prefix, n));
            }
        });
    }

    /**
     * The descendant module at {@code modulePath} (relative to this one).
     *
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} when there is none
     */
    public final Module module(String modulePath) {
        if (modulePath.isEmpty()) {
            return this;
        }
        int dot = modulePath.indexOf('.');
        Object m = members.get(dot < 0 ? modulePath : modulePath.substring(0, dot));
        if (m instanceof Module child) {
            return dot < 0 ? child : child.module(modulePath.substring(dot + 1));
        }
        throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "no module at '" + modulePath + "'");
    }

    /** Runs the linear layer in a slot on {@code x}, reporting the call to a running {@link Trace} and memo. */
    protected final NDArray linear(String slotPath, NDArray x) {
        LinearLayer l = slot(slotPath);
        if (memo != null) {
            memo.ran(this, slotPath, l);
        }
        return Trace.call("linear", l.name(), l.forward(x), x);
    }

    /**
     * Runs one step of this module's forward: a part whose output depends only on the module's
     * input and on the linear layers run before and inside it (no state of its own that a method
     * changes). Under a {@link StepMemo} a step that can no longer change is computed once per
     * batch. Its output must not be modified in place.
     */
    protected final NDArray step(String name, Supplier<NDArray> compute) {
        return memo == null ? compute.get() : memo.step(path + "#" + name, compute);
    }

    /** Puts this module and every descendant under {@code memo} (null: none). */
    public final void useMemo(StepMemo memo) {
        this.memo = memo;
        members.values().forEach(m -> {
            if (m instanceof Module child) {
                child.useMemo(memo);
            }
        });
    }

    /** Registers an attention matmul slot under a local name ({@code bmm1}); its name is this module's path plus it. */
    protected final void addBmm(String name, Bmm bmm) {
        register(name, bmm);
    }

    /** The matmul now in a slot; {@code path} may go through children. */
    protected final Bmm bmm(String slotPath) {
        return findBmm(slotPath).orElseThrow(() -> new IllegalStateException("no bmm slot '" + slotPath + "' in " + getClass().getSimpleName()));
    }

    /** The matmul at a full path from this module ({@code model.layers.0.self_attn.bmm1}), if there is one. */
    public final Optional<Bmm> findBmm(String slotPath) {
        return Optional.ofNullable(memberAt(slotPath, Bmm.class));
    }

    /**
     * Swaps the matmul in a slot, given its full path from this module.
     *
     * @return what was there
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} when no slot has that path
     */
    public final Bmm replaceBmm(String slotPath, Bmm replacement) {
        return swap(slotPath, Bmm.class, replacement, "attention matmul");
    }

    /** Visits every matmul slot depth-first in forward order with its full path. */
    public final void forEachBmm(String prefix, BiConsumer<String, Bmm> visitor) {
        forEachMember(prefix, Bmm.class, visitor);
    }

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

    /**
     * Registers a sub-module at a dotted path below this one ({@code model.embed_tokens}), creating
     * a {@link Group} for each naming level that does not exist yet, so that a module tree can
     * follow whatever names a checkpoint uses. For building a tree: a module whose parts come from
     * a shared builder ({@code LmHead}) places them through it.
     */
    public final <M extends Module> M addModuleAt(String path, M module) {
        return parentOf(path).addModule(leaf(path), module);
    }

    /** Registers a linear slot at a dotted path, creating the naming levels (see {@link #addModuleAt}). */
    public final void addLinearAt(String path, LinearLayer layer) {
        parentOf(path).addLinear(leaf(path), layer);
    }

    private Module parentOf(String path) {
        int dot = path.indexOf('.');
        if (dot < 0) {
            return this;
        }
        String head = path.substring(0, dot);
        Object existing = members.get(head);
        Module level = existing == null ? addModule(head, new Group()) : existing instanceof Group g ? g : null;
        if (level == null) {
            throw new IllegalStateException("'" + head + "' in " + getClass().getSimpleName() + " is not a naming group");
        }
        return level.parentOf(path.substring(dot + 1));
    }

    private static String leaf(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
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
        LinearLayer l = memberAt(path, LinearLayer.class);
        if (l == null) {
            throw new IllegalStateException("no linear slot '" + path + "' in " + getClass().getSimpleName());
        }
        return l;
    }

    /**
     * Swaps the layer in a slot, given the slot's full path from this module.
     *
     * @return the layer that was there
     * @throws FmsmoException {@link ErrorCode#UNKNOWN_NAME} when no slot has that path
     */
    public final LinearLayer replaceLinear(String path, LinearLayer replacement) {
        return swap(path, LinearLayer.class, replacement, "linear layer");
    }

    /** Visits every linear slot depth-first in registration (= forward) order with its full path. */
    public final void forEachLinear(String prefix, BiConsumer<String, LinearLayer> visitor) {
        forEachMember(prefix, LinearLayer.class, visitor);
    }

    /** The member of {@code type} at {@code path} (through children), or null. */
    private <T> T memberAt(String path, Class<T> type) {
        int dot = path.indexOf('.');
        Object m = members.get(dot < 0 ? path : path.substring(0, dot));
        if (dot >= 0 && m instanceof Module child) {
            return child.memberAt(path.substring(dot + 1), type);
        }
        return dot < 0 && type.isInstance(m) ? type.cast(m) : null;
    }

    /** Replaces the member of {@code type} at {@code path} (through children) and returns the old one. */
    private <T> T swap(String path, Class<T> type, T replacement, String what) {
        int dot = path.indexOf('.');
        Object m = members.get(dot < 0 ? path : path.substring(0, dot));
        if (dot >= 0 && m instanceof Module child) {
            return child.swap(path.substring(dot + 1), type, replacement, what);
        }
        if (dot < 0 && type.isInstance(m)) {
            members.put(path, Objects.requireNonNull(replacement));
            return type.cast(m);
        }
        throw new FmsmoException(ErrorCode.UNKNOWN_NAME, "no " + what + " at '" + path + "'");
    }

    /** Visits the members of {@code type} depth-first in registration order with their full paths. */
    private <T> void forEachMember(String prefix, Class<T> type, BiConsumer<String, T> visitor) {
        members.forEach((n, m) -> {
            if (type.isInstance(m)) {
                visitor.accept(join(prefix, n), type.cast(m));
            } else if (m instanceof Module child) {
                child.forEachMember(join(prefix, n), type, visitor);
            }
        });
    }

    /** Visits every float parameter with its checkpoint name, a linear slot's as {@code name.weight} and {@code name.bias}. */
    public final void forEachParameter(String prefix, BiConsumer<String, NDArray> visitor) {
        forEachParameterLazily(prefix, (name, value) -> visitor.accept(name, value.get()));
    }

    /**
     * As {@link #forEachParameter}, but each value is asked for only when the visitor needs it: a
     * writer that stores a frozen layer's codes instead never touches its float weight (which a
     * streamed run has released by then).
     */
    public final void forEachParameterLazily(String prefix, BiConsumer<String, Supplier<NDArray>> visitor) {
        members.forEach((n, m) -> {
            String full = join(prefix, n);
            switch (m) {
                case NDArray p -> visitor.accept(full, () -> p);
                case LinearLayer l -> {
                    visitor.accept(full + ".weight", l::weight);
                    l.bias().ifPresent(b -> visitor.accept(full + ".bias", () -> b));
                }
                case Module child -> child.forEachParameterLazily(full, visitor);
                case Bmm ignored -> {
                    // no parameters
                }
                default -> throw new IllegalStateException("unexpected member " + m.getClass());
            }
        });
    }

    private static String join(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }
}
