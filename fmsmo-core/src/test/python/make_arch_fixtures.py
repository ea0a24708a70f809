"""Builds the architecture fixtures: tiny random Hugging Face models with the outputs transformers computes for them.

    fmsmo-core/src/test/python/make_arch_fixtures.sh [OUTDIR] [VARIANT]

Each OUTDIR/<arch>/ gets config.json and model.safetensors (as save_pretrained writes them),
reference.safetensors (input_ids, attention_mask, and logits or last_hidden_state) and meta.json.
VARIANT 'small' (the committed fixtures: hidden 64, 2 layers) or 'wide' (hidden 96, 3 layers, to
check that nothing depends on the committed shapes). Norm gains and biases are perturbed so
that they matter; every model runs in float32 with eager attention.
"""
import json, os, sys
import torch, transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
from safetensors.torch import save_file

VOCAB = 1024


def dims(variant):
    return (64, 2, 4, 2, 172) if variant == "small" else (96, 3, 6, 2, 256)


def decoders(variant):
    h, layers, heads, kv, inter = dims(variant)
    common = dict(vocab_size=VOCAB, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=128)
    window = 16 if variant == "small" else 24
    return {
        "llama3": ("llama", dict(common, tie_word_embeddings=True, rms_norm_eps=1e-5,
                                 rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                                      high_freq_factor=4.0, original_max_position_embeddings=16))),
        "mistral": ("mistral", dict(common, sliding_window=window, rope_parameters=dict(rope_type="default", rope_theta=1e6))),
        "qwen2": ("qwen2", dict(common, tie_word_embeddings=True, rope_parameters=dict(rope_type="default", rope_theta=1e6))),
        "qwen3": ("qwen3", dict(common, head_dim=32, rope_parameters=dict(rope_type="default", rope_theta=1e6))),
        "gemma2": ("gemma2", dict(common, head_dim=32, query_pre_attn_scalar=32, sliding_window=window, attn_logit_softcapping=50.0,
                                  final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh")),
        "gemma3": ("gemma3_text", dict(common, head_dim=32, query_pre_attn_scalar=32, sliding_window=window, sliding_window_pattern=2)),
        # pad_token_id: Phi-3's default (32000) is outside this vocabulary
        "phi3": ("phi3", dict(common, pad_token_id=0, rope_parameters=dict(rope_type="default", rope_theta=10000.0,
                                                                           partial_rotary_factor=0.75))),
        "granite": ("granite", dict(common, embedding_multiplier=12.0, residual_multiplier=0.22, attention_multiplier=0.0078125,
                                    logits_scaling=8.0)),
        "gpt2": ("gpt2", dict(vocab_size=VOCAB, n_positions=128, n_embd=h, n_layer=layers, n_head=heads,
                              activation_function="gelu_new")),
        "mixtral": ("mixtral", dict(common, intermediate_size=96, num_local_experts=4, num_experts_per_tok=2)),
        "qwen3_moe": ("qwen3_moe", dict(common, head_dim=32, moe_intermediate_size=64, num_experts=4, num_experts_per_tok=2,
                                        decoder_sparse_step=1, norm_topk_prob=True, mlp_only_layers=[])),
    }


def encoders(variant):
    h, layers, heads, _, inter = dims(variant)
    common = dict(vocab_size=VOCAB, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=inter,
                  max_position_embeddings=130)
    return {
        "roberta": ("roberta", dict(common, pad_token_id=1, type_vocab_size=1)),
        "xlm_roberta": ("xlm-roberta", dict(common, pad_token_id=1, type_vocab_size=1)),
        "modernbert": ("modernbert", dict(common, pad_token_id=0, global_attn_every_n_layers=2, local_attention=16,
                                          reference_compile=False)),
    }


def make(out, name, model_type, kwargs, causal, seed=1, tokens=24):
    torch.manual_seed(seed)
    config = AutoConfig.for_model(model_type, **kwargs)
    model = (AutoModelForCausalLM if causal else AutoModel).from_config(config, attn_implementation="eager").float().eval()
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    g = torch.Generator().manual_seed(seed + 100)
    ids = torch.randint(3, VOCAB, (2, tokens), generator=g)
    mask = torch.ones(2, tokens, dtype=torch.long)
    if not causal:  # the second sentence ends in padding
        pad = getattr(config, "pad_token_id", None)
        mask[1, tokens - 6:] = 0
        ids[1, tokens - 6:] = pad if pad is not None else 0
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask)
    ref = {"input_ids": ids.contiguous(), "attention_mask": mask.contiguous()}
    key = "logits" if causal else "last_hidden_state"
    ref[key] = getattr(o, key).float().contiguous()
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    save_file(ref, os.path.join(d, "reference.safetensors"))
    json.dump({"arch": name, "model_type": model_type, "class": type(model).__name__, "transformers": transformers.__version__,
               "torch": torch.__version__, "attn_implementation": "eager", "seed": seed, "tokens": tokens, "output": key},
              open(os.path.join(d, "meta.json"), "w"), indent=1)
    print(f"{name:12s} {type(model).__name__:28s} {sum(p.numel() for p in model.parameters())} parameters", flush=True)


if __name__ == "__main__":
    out = sys.argv[1]
    variant = sys.argv[2] if len(sys.argv) > 2 else "small"
    for name, (t, kw) in decoders(variant).items():
        make(out, name, t, kw, True)
    for name, (t, kw) in encoders(variant).items():
        make(out, name, t, kw, False)
