package com.example.fmsmo.metallama;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.fmsmo.api.arch.ArchitectureSpec;
import org.fmsmo.api.arch.TransformerSpec;
import org.fmsmo.api.arch.TransformerSpec.Part;
import org.fmsmo.api.arch.ModelConfig;

/**
 * Llama as Meta's reference code names its tensors ({@code tok_embeddings},
 * {@code layers.N.attention.wq}, {@code feed_forward.w1}, {@code attention_norm}, {@code output}),
 * with a Hugging Face-style {@code config.json} of model_type {@code meta_llama}. Written against
 * the SPI only: the host builds and runs the model from this description.
 */
public final class MetaLlamaArchitecture implements org.fmsmo.api.arch.ModelArchitectureProvider {

    private static final TransformerSpec.Names NAMES = TransformerSpec.Names.llama()
            .with(Part.EMBEDDING, "tok_embeddings").with(Part.LAYERS, "layers").with(Part.FINAL_NORM, "norm").with(Part.LM_HEAD, "output")
            .with(Part.ATTENTION, "attention").with(Part.Q, "wq").with(Part.K, "wk").with(Part.V, "wv").with(Part.O, "wo")
            .with(Part.MLP, "feed_forward").with(Part.GATE, "w1").with(Part.UP, "w3").with(Part.DOWN, "w2")
            .with(Part.INPUT_NORM, "attention_norm").with(Part.POST_ATTENTION_NORM, "ffn_norm");

    @Override
    public String name() {
        return "meta-llama";
    }

    @Override
    public String description() {
        return "Llama with Meta's original tensor names";
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("meta_llama");
    }

    @Override
    public ArchitectureSpec describe(ModelConfig c) {
        int hidden = c.positive("hidden_size");
        int heads = c.positive("num_attention_heads");
        int kvHeads = c.positive("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw c.invalid("num_key_value_heads", "(" + kvHeads + ") must divide num_attention_heads (" + heads + ")");
        }
        if (hidden % heads != 0 || (hidden / heads) % 2 != 0) {
            throw c.invalid("num_attention_heads", "must split hidden_size (" + hidden + ") into heads of even width");
        }
        int layers = c.positive("num_hidden_layers");
        List<TransformerSpec.Layer> list = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            list.add(new TransformerSpec.Layer(0, c.rope("full_attention", 10000.0), false));
        }
        int headDim = hidden / heads;
        return new TransformerSpec(c.positive("vocab_size"), hidden, heads, kvHeads, headDim, c.positive("intermediate_size"),
                c.positive("max_position_embeddings", 2048), TransformerSpec.Norm.RMS, c.numberBetween("rms_norm_eps", 1e-5, 0, 1),
                TransformerSpec.Layout.PRE_NORM, TransformerSpec.Activation.SILU,
                new TransformerSpec.Attention(false, false, false, 1 / Math.sqrt(headDim), 0), list, null, TransformerSpec.Scaling.NONE,
                false, false, false, c.bool("tie_word_embeddings", false), TransformerSpec.Positions.ROTARY, true, false, NAMES, null);
    }
}
