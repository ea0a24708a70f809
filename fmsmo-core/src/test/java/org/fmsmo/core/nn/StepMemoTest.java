package org.fmsmo.core.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.fmsmo.api.model.LinearLayer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memo replays a step only while the layers before and inside it are settled and unchanged,
 * and what it replays is bit for bit what the step computes.
 */
class StepMemoTest {

    /** {@code c(step(b(a(x))))}: one step that reads {@code b} and follows {@code a}. */
    static final class Chain extends Module {
        int computed;

        Chain(NDManager m) {
            addLinear("a", linear(m, "a", 1));
            addLinear("b", linear(m, "b", 2));
            addLinear("c", linear(m, "c", 3));
            assignPaths("chain");
        }

        private static Linear linear(NDManager m, String name, int seed) {
            return new Linear(name, m.randomNormal(0, 1, new Shape(6, 6), ai.djl.ndarray.types.DataType.FLOAT32, m.getDevice())
                    .add(seed), null);
        }

        NDArray forward(NDArray x) {
            NDArray h = linear("a", x);
            NDArray s = step("inner", () -> {
                computed++;
                return linear("b", h).tanh();
            });
            return linear("c", s);
        }

        void swap(String slot, LinearLayer l) {
            replaceLinear(slot, l);
        }

        LinearLayer at(String slot) {
            return slot(slot);
        }
    }

    private static float[] run(StepMemo memo, Chain chain, NDArray x, int batch) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            memo.begin(batch);
            float[] y = chain.forward(x).toFloatArray();
            memo.begin(-1);
            return y;
        }
    }

    private static void replaysOnlySettledSteps(Path dir) {
        try (NDManager m = NDManager.newBaseManager()) {
            Chain chain = new Chain(m);
            NDArray x0 = m.randomNormal(new Shape(4, 6));
            NDArray x1 = m.randomNormal(new Shape(4, 6));
            float[] expected0 = chain.forward(x0).toFloatArray();
            chain.computed = 0;
            Set<LinearLayer> settled = new HashSet<>();
            try (StepMemo memo = new StepMemo(m, settled::contains, dir, Long.MAX_VALUE)) {
                chain.useMemo(memo);
                settled.add(chain.at("b"));
                run(memo, chain, x0, 0);
                run(memo, chain, x0, 0);
                assertEquals(2, chain.computed, "a, before the step, is not settled: the step must not be recorded");

                settled.add(chain.at("a"));
                run(memo, chain, x0, 0); // records
                run(memo, chain, x1, 1); // another batch: its own entry
                float[] replayed = run(memo, chain, x0, 0);
                assertEquals(4, chain.computed);
                assertEquals(1, memo.replayed());
                assertArrayEquals(expected0, replayed, "a replay is what the step computes, bit for bit");

                // The layer inside the step swapped for another: recomputed, not replayed.
                Linear other = Chain.linear(m, "b", 5);
                chain.swap("b", other);
                settled.add(other);
                run(memo, chain, x0, 0);
                assertEquals(5, chain.computed);
                // ... and the new output is recorded in its place.
                run(memo, chain, x0, 0);
                assertEquals(5, chain.computed);
                assertEquals(2, memo.replayed());

                memo.clear();
                run(memo, chain, x0, 0);
                assertEquals(6, chain.computed, "cleared: computed again");
                assertTrue(memo.bytes() > 0);

                chain.useMemo(null);
                chain.forward(x0);
                assertEquals(7, chain.computed, "without a memo every step is computed");
            }
        }
    }

    @Test
    void replaysInMemoryOnlySettledUnchangedSteps() {
        replaysOnlySettledSteps(null);
    }

    @Test
    void replaysFromFilesAndRemovesThem(@TempDir Path dir) throws Exception {
        replaysOnlySettledSteps(dir.resolve("steps"));
        try (var files = Files.list(dir.resolve("steps"))) {
            assertEquals(0, files.count(), "closing the memo deletes its files");
        }
    }

    @Test
    void aStepOverTheBudgetIsComputedEachTime() {
        try (NDManager m = NDManager.newBaseManager()) {
            Chain chain = new Chain(m);
            NDArray x = m.randomNormal(new Shape(4, 6));
            try (StepMemo memo = new StepMemo(m, l -> true, null, 4 * 6 * 4 - 1)) {
                chain.useMemo(memo);
                run(memo, chain, x, 0);
                run(memo, chain, x, 0);
                assertEquals(2, chain.computed);
                assertEquals(0, memo.bytes());
            }
        }
    }
}
