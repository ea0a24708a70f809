package org.fmsmo.core.nn;

import org.fmsmo.api.model.LinearLayer;

/**
 * A module with no computation of its own: it only gives a level of the checkpoint's naming
 * ({@code attention.output}) to the modules and linear slots below it. Its parent runs them.
 */
public final class Group extends Module {

    /** Adds a child and returns it. */
    public <M extends Module> M add(String name, M module) {
        return addModule(name, module);
    }

    /** Adds a linear slot and returns this group, for chaining. */
    public Group add(String name, LinearLayer layer) {
        addLinear(name, layer);
        return this;
    }

    /** Adds an attention matmul slot named after this group's path and returns this group. */
    public Group addBmm(String name, String fullName) {
        addBmm(name, Bmm.plain(fullName));
        return this;
    }
}
