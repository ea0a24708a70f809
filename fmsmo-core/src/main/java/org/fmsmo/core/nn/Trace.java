package org.fmsmo.core.nn;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * Records the module and op calls of one forward pass with their data flow, for the analyzer.
 * Forward code reports each traced call (linear, norm, attention matmul, residual add, embedding)
 * with its input and output arrays; arrays are identified by Java object identity, which — unlike
 * native handles, reused once freed — cannot alias two different tensors.
 *
 * <p>Recording is per thread and off unless {@link #record(Runnable)} runs; then a call costs a
 * thread-local read.
 */
public final class Trace {

    /**
     * One traced call.
     *
     * @param kind   {@code embedding}, {@code linear}, {@code norm}, {@code bmm}, {@code add}, or
     *               {@code channelwise}: output channel {@code c} depends on the (first) input's
     *               channel {@code c} only, linearly (attention mixing v over tokens; a gated MLP's
     *               {@code act(gate) ⊙ up}), so a per-channel scale passes through it
     * @param name   the module path ({@code model.layers.0.self_attn.q_proj}; a bmm:
     *               {@code …self_attn.bmm1})
     * @param output the array it produced
     * @param inputs the arrays it read, in order
     */
    public record Event(String kind, String name, NDArray output, List<NDArray> inputs) {
    }

    private static final ThreadLocal<List<Event>> CURRENT = new ThreadLocal<>();

    private Trace() {
    }

    /** Runs {@code forward} with recording on and returns what it recorded, in call order. */
    public static List<Event> record(Runnable forward) {
        List<Event> events = new ArrayList<>();
        List<Event> outer = CURRENT.get();
        CURRENT.set(events);
        try {
            forward.run();
        } finally {
            if (outer == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(outer);
            }
        }
        return events;
    }

    /** Reports a call when recording; returns {@code output} for chaining. */
    public static NDArray call(String kind, String name, NDArray output, NDArray... inputs) {
        List<Event> events = CURRENT.get();
        if (events != null) {
            events.add(new Event(kind, name, output, List.of(inputs)));
        }
        return output;
    }
}
