package org.fmsmo.core.analysis;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.api.quant.InputGroup;
import org.fmsmo.api.quant.QuantConfig;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.model.CausalLM;
import org.fmsmo.core.model.SentenceEncoder;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Trace;

/**
 * Traces one forward pass of a model on a short example and reads its data flow: every linear
 * layer, the attention matmuls, which linears read the same tensor (q/k/v; gate/up), which
 * module produced that tensor, and whether a norm's output feeds only those linears — the case
 * where SmoothQuant can fold its scale into the norm — or the tensor's channels are a linear
 * layer's output channels passed through a {@code channelwise} op (o_proj's from v_proj,
 * down_proj's from up_proj), where AWQ folds its scale into that layer's rows. A post-norm block (BERT) feeds the norm's
 * output to the residual add too, so there it cannot fold. Weight magnitudes are measured for the
 * outlier rule. The plan itself comes from {@link QuantPlanner}.
 *
 * <p>A layer of core that the pipeline calls directly, not a provider: it reads core's own
 * forward trace ({@link Trace}) and module tree, which no SPI type exposes, and nothing else
 * would implement it. (It used to be a module found through {@code ServiceLoader} on a
 * core-private interface, which made it depend on core's internals while core depended on it.)
 */
public final class ModelAnalyzer {

    /** The example text traced (any text works; the flow does not depend on it). */
    static final String EXAMPLE = "Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about.";

    private ModelAnalyzer() {
    }

    /** The plan for {@code model} under {@code config}, from a traced forward pass. */
    public static QuantPlan plan(TransformerModel model, QuantConfig config) {
        List<Trace.Event> events;
        try (NDManager m = model.manager().newSubManager()) {
            events = Trace.record(() -> forward(model, m).close());
        }
        return plan(events, model, config);
    }

    /**
     * The plan for one block of a streamed model, from a traced forward pass of that block alone.
     * The rules are the whole model's, applied to the block's layers; the outlier rule
     * ({@code qskip_large_mag_layers}) compares a layer with the block's median.
     *
     * @param block   the block's layers
     * @param forward runs the block once on any input
     */
    public static QuantPlan planBlock(QuantizableModel block, Runnable forward, QuantConfig config) {
        return plan(Trace.record(forward), block, config);
    }

    private static QuantPlan plan(List<Trace.Event> events, QuantizableModel model, QuantConfig config) {
        List<String> linears = new ArrayList<>();
        List<String> bmms = new ArrayList<>();
        Map<NDArray, Trace.Event> producer = new IdentityHashMap<>();
        Map<NDArray, List<Trace.Event>> consumers = new IdentityHashMap<>();
        for (Trace.Event e : events) {
            switch (e.kind()) {
                case "linear" -> linears.add(e.name());
                case "bmm" -> bmms.add(e.name());
                default -> {
                    // norms, adds and embeddings matter only as producers and consumers
                }
            }
            producer.putIfAbsent(e.output(), e);
            for (NDArray in : e.inputs()) {
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(e);
            }
        }
        return QuantPlanner.plan(linears, bmms, groups(events, producer, consumers), magnitudes(model), QuantPlanner.outputHeads(model), config);
    }

    private static List<InputGroup> groups(List<Trace.Event> events, Map<NDArray, Trace.Event> producer,
                                           Map<NDArray, List<Trace.Event>> consumers) {
        Map<NDArray, List<String>> byInput = new LinkedHashMap<>();
        Map<NDArray, Boolean> seen = new IdentityHashMap<>();
        List<NDArray> order = new ArrayList<>();
        for (Trace.Event e : events) {
            if (e.kind().equals("linear")) {
                NDArray in = e.inputs().getFirst();
                if (seen.put(in, Boolean.TRUE) == null) {
                    order.add(in);
                }
            }
        }
        List<InputGroup> groups = new ArrayList<>();
        for (NDArray in : order) {
            List<Trace.Event> readers = consumers.get(in);
            List<String> layers = readers.stream().filter(r -> r.kind().equals("linear")).map(Trace.Event::name).distinct().toList();
            Trace.Event from = producer.get(in);
            boolean onlyLinears = readers.stream().allMatch(r -> r.kind().equals("linear"));
            Trace.Event source = channelSource(from, producer, consumers);
            if (source != null) {
                groups.add(new InputGroup(layers, source.name(), onlyLinears));
            } else {
                boolean norm = from != null && from.kind().equals("norm");
                groups.add(new InputGroup(layers, from == null ? "" : from.name(), norm && onlyLinears));
            }
        }
        return groups;
    }

    /**
     * The linear layer whose output channels become this input's one to one, through a
     * {@code channelwise} op (v_proj through attention to o_proj, up_proj through the gate to
     * down_proj), when that output feeds nothing else: a per-channel scale of the input can then
     * be folded into its rows. Null otherwise.
     */
    private static Trace.Event channelSource(Trace.Event from, Map<NDArray, Trace.Event> producer, Map<NDArray, List<Trace.Event>> consumers) {
        if (from == null || !from.kind().equals("channelwise")) {
            return null;
        }
        NDArray through = from.inputs().getFirst();
        Trace.Event source = producer.get(through);
        boolean onlyThis = consumers.getOrDefault(through, List.of()).stream().allMatch(e -> e == from);
        return source != null && source.kind().equals("linear") && onlyThis ? source : null;
    }

    private static Map<String, Double> magnitudes(QuantizableModel model) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (LinearLayer l : model.linearLayers()) {
            try (NDArray abs = l.weight().abs(); NDArray max = abs.max()) { // weight-sized: freed now, not with the model
                out.put(l.name(), (double) max.getFloat());
            }
        }
        return out;
    }

    private static NDArray forward(TransformerModel model, NDManager m) {
        long[] ids = model.hasTokenizer() ? model.tokenizer().encode(EXAMPLE, true) : new long[] {1, 2, 3, 4, 5, 6, 7, 8};
        NDArray input = m.create(ids, new Shape(1, ids.length));
        return switch (model) {
            case CausalLM lm -> lm.logits(input);
            case SentenceEncoder enc -> enc.hiddenStates(input, m.ones(new Shape(1, ids.length), ai.djl.ndarray.types.DataType.INT64));
            default -> throw new IllegalArgumentException("cannot trace a " + model.architecture());
        };
    }
}
