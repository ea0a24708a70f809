package org.fmsmo.core.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Numbered children ({@code layers.0}, {@code layers.1} …) run in order by the parent. */
public final class ModuleList<M extends Module> extends Module {

    private final List<M> items = new ArrayList<>();

    public ModuleList(List<M> modules) {
        for (M m : modules) {
            addModule(Integer.toString(items.size()), m);
            items.add(m);
        }
    }

    public List<M> items() {
        return Collections.unmodifiableList(items);
    }
}
