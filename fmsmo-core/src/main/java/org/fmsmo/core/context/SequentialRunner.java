package org.fmsmo.core.context;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.quant.QuantContext;
import org.fmsmo.api.quant.QuantPlan;
import org.fmsmo.core.calibration.CalibrationData;
import org.fmsmo.core.calibration.HiddenStates;
import org.fmsmo.core.model.TransformerModel;
import org.fmsmo.core.nn.Module;

/**
 * The host side of {@link QuantContext#sequential} for a model in memory: keeps every calibration
 * batch's hidden state at the current block boundary, runs one block at a time and quantizes the
 * block's stages ({@link BlockStages}). Layers outside the blocks ({@code lm_head}, when planned)
 * are staged last, through the head.
 */
final class SequentialRunner {

    private final TransformerModel model;
    private final QuantPlan plan;
    private final CalibrationData data;
    private final boolean trueSequential;

    /**
     * @param trueSequential within a block, later stages see earlier stages quantized; when
     *                       false every stage sees the block's float layers (the block's output
     *                       is still computed quantized before the next block)
     */
    SequentialRunner(TransformerModel model, QuantPlan plan, CalibrationData data, boolean trueSequential) {
        this.model = model;
        this.plan = plan;
        this.data = data;
        this.trueSequential = trueSequential;
    }

    void run(QuantContext.Stage stage) {
        List<String> planned = new ArrayList<>();
        Set<String> quantized = new LinkedHashSet<>();
        plan.quantized().forEach(d -> quantized.add(d.name()));
        for (LinearLayer l : model.linearLayers()) {
            if (quantized.contains(l.name())) {
                planned.add(l.name()); // forward order
            }
        }
        List<? extends Module> blocks = model.blocks();
        BlockStages stages = new BlockStages(model, plan);
        try (HiddenStates states = HiddenStates.embed(data, model.manager(), model::blockInput)) {
            Set<String> done = new LinkedHashSet<>();
            for (int i = 0; i < blocks.size(); i++) {
                String prefix = blocks.get(i).path() + ".";
                List<String> inBlock = planned.stream().filter(n -> n.startsWith(prefix)).toList();
                int block = i;
                stages.run(inBlock, states, s -> model.runBlock(block, s.hidden(), s.mask()), stage, trueSequential, frozen -> {
                });
                done.addAll(inBlock);
                if (inBlock.isEmpty() && planned.stream().noneMatch(n -> !done.contains(n))) {
                    break; // nothing left to quantize: later blocks need not run
                }
                states.advance(s -> model.runBlock(block, s.hidden(), s.mask()));
            }
            List<String> rest = planned.stream().filter(n -> !done.contains(n)).toList();
            for (List<String> layers : stages.stages(rest)) {
                stages.quantizeStage(stage, layers, states, s -> model.head(s.hidden()));
            }
        }
    }
}
