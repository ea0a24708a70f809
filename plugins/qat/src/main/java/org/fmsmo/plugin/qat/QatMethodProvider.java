package org.fmsmo.plugin.qat;

import java.util.List;
import org.fmsmo.api.plugin.ConfigKeySpec;
import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** {@code qat}: quantization-aware training of the weights and the quantizers' clips. */
public final class QatMethodProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "qat";
    }

    @Override
    public String description() {
        return "QAT: calibrate, then train weights and clip parameters (AdamW, warm-up + cosine) on the host's objective (KL or embedding distillation, next-token)";
    }

    @Override
    public List<ConfigKeySpec> configKeys() {
        return List.of(
                ConfigKeySpec.number("pact_a_lr", 0, 10, "learning rate of activation clips"),
                ConfigKeySpec.number("pact_w_lr", 0, 10, "learning rate of weight clips"),
                ConfigKeySpec.integer("qat_steps", 1, 1 << 24, "QAT optimizer steps"),
                ConfigKeySpec.number("qat_lr", 0, 1, "QAT learning rate of the weights (AdamW)"),
                ConfigKeySpec.number("qat_weight_decay", 0, 1, "QAT decoupled weight decay of the weights (clips: none)"),
                ConfigKeySpec.integer("qat_warmup_steps", 0, 1 << 24, "QAT linear warm-up steps before the schedule"),
                ConfigKeySpec.choice("qat_schedule", "QAT learning-rate schedule after warm-up", "cosine", "linear", "constant"),
                ConfigKeySpec.number("qat_grad_clip", 0, 1e6, "QAT global gradient-norm clip (0: none)"),
                ConfigKeySpec.integer("qat_grad_accum", 1, 1 << 16, "QAT micro-batches per optimizer step"),
                ConfigKeySpec.integer("qat_checkpoint_every", 0, 1 << 24, "QAT steps between resumable checkpoints (0: only after the last step)"),
                ConfigKeySpec.integer("qat_eval_every", 0, 1 << 24, "QAT steps between held-out evaluations (0: only at the end)"));
    }

    @Override
    public QuantMethod create() {
        return new QatMethod();
    }
}
