package org.fmsmo.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.fmsmo.core.checkpoint.ModelLoader;
import org.fmsmo.core.nn.Trace;
import org.fmsmo.core.plugin.PluginRegistry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * How a mixture of experts is calibrated: every expert's linears see every token of a batch (so
 * an expert the router rarely or never picks still gets statistics and a Hessian from real
 * activations), while the output stays the sparse one (checked against transformers by
 * {@link ArchitectureReferenceTest}). Here on the Mixtral fixture: with 4 experts and top-2
 * routing, each token picks two, yet every expert's three linears run on all 12 tokens.
 */
class MixtureCalibrationTest {

    @Test
    void everyExpertSeesEveryTokenWhateverTheRouterPicks() {
        Path dir = Path.of("src/test/resources/archs/mixtral");
        Assumptions.assumeTrue(Files.isDirectory(dir), "no fixture " + dir);
        try (PluginRegistry registry = PluginRegistry.builder().application().build();
             TransformerModel model = new ModelLoader(registry).load(dir, false);
             NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(new long[] {5, 17, 99, 300, 512, 7, 64, 1000, 3, 42, 77, 128}, new Shape(2, 6));
            Map<String, Long> rows = new TreeMap<>();
            List<Trace.Event> events = Trace.record(() -> ((CausalLM) model).logits(ids));
            for (Trace.Event e : events) {
                if (e.kind().equals("linear") && e.name().contains(".experts.")) {
                    rows.merge(e.name(), e.inputs().getFirst().getShape().get(0), Long::sum);
                }
            }
            assertEquals(2 * 4 * 3, rows.size(), "every expert's gate, up and down ran: " + rows.keySet());
            rows.forEach((name, n) -> assertEquals(12L, n, name + " saw every token"));
            assertTrue(rows.containsKey("model.layers.0.block_sparse_moe.experts.3.w1"));
        }
    }
}
