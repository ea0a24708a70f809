package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.function.Supplier;

/**
 * Memory discipline for forward passes. Every array an operation creates is registered in the
 * innermost {@link NDScope} of its thread, whatever manager it belongs to; closing the scope
 * frees them. Forward code runs each block in a scope of its own and keeps only its result.
 */
public final class Scopes {

    private Scopes() {
    }

    /**
     * Runs {@code step} in a fresh scope, frees everything it created except its result, and
     * hands the result to the enclosing scope.
     */
    public static NDArray step(Supplier<NDArray> step) {
        NDArray result;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            result = step.get();
            NDScope.unregister(result);
        }
        NDScope.register(result);
        return result;
    }

    /** Takes {@code result} out of the current scope and gives it to {@code owner}, for returning to a caller. */
    public static NDArray keep(NDArray result, NDManager owner) {
        NDScope.unregister(result);
        result.attach(owner);
        return result;
    }
}
