#!/usr/bin/env python3
"""Checks a GGUF file fmsmo wrote with llama.cpp's own gguf-py, independently of fmsmo's reader.

usage: check_gguf.py MODEL_DIR FILE.gguf

MODEL_DIR is the float Hugging Face Llama folder the file was exported from (F32/F16/BF16
safetensors, read here by hand). For each tensor, gguf-py's reader and dequantizer give its values;
they are compared with the source tensor, after the q/k row permutation llama.cpp's
convert_hf_to_gguf.py applies. F32 tensors must be equal; F16 within fp16 rounding; quantized
tensors within half a quantization step. Q8_0 and Q4_0 tensors must also equal, byte for byte, what
gguf-py's own quantizer writes for the same values. The metadata llama.cpp requires is checked
against config.json. Prints one line per check family and exits 1 on any failure.
"""
import json
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T


def load_safetensors(folder):
    import glob
    import os
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "model*.safetensors"))):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            base = 8 + n
            data = open(path, "rb").read()
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            raw = data[base + a:base + b]
            dt = info["dtype"]
            if dt == "F32":
                v = np.frombuffer(raw, dtype="<f4")
            elif dt == "F16":
                v = np.frombuffer(raw, dtype="<f2").astype(np.float32)
            elif dt == "BF16":
                v = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                raise SystemExit(f"{name}: dtype {dt} is not a float")
            out[name] = v.reshape(info["shape"])
    return out


def permute(w, n_head):
    # convert_hf_to_gguf.py's LlamaModel.permute: rotate-half rows to adjacent pairs
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
BLOCK = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def hf_name(name):
    if name in NAMES:
        return NAMES[name]
    _, i, part, kind = name.split(".")
    return f"model.layers.{i}.{BLOCK[part]}.{kind}"


def main():
    folder, path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{folder}/config.json"))
    src = load_safetensors(folder)
    r = gguf.GGUFReader(path)
    failures = []

    def field(key):
        f = r.fields[key]
        if f.types[0] == gguf.GGUFValueType.STRING:
            return bytes(f.parts[f.data[0]]).decode()
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            return [bytes(f.parts[i]).decode() if f.types[1] == gguf.GGUFValueType.STRING else f.parts[i][0] for i in f.data]
        return f.parts[f.data[0]][0]

    heads, kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    expected = {
        "general.architecture": "llama", "general.alignment": 32,
        "llama.block_count": cfg["num_hidden_layers"], "llama.embedding_length": cfg["hidden_size"],
        "llama.feed_forward_length": cfg["intermediate_size"], "llama.attention.head_count": heads,
        "llama.attention.head_count_kv": kv, "llama.context_length": cfg["max_position_embeddings"],
        "llama.rope.dimension_count": cfg.get("head_dim", cfg["hidden_size"] // heads),
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.bos_token_id": cfg.get("bos_token_id", 1),
        "tokenizer.ggml.eos_token_id": cfg.get("eos_token_id", 2),
    }
    for k, v in expected.items():
        got = field(k)
        if got != v:
            failures.append(f"metadata {k}: {got!r}, expected {v!r}")
    for k, v in {"llama.attention.layer_norm_rms_epsilon": cfg["rms_norm_eps"], "llama.rope.freq_base": cfg.get("rope_theta", 10000.0)}.items():
        if abs(field(k) - v) > 1e-6 * abs(v):
            failures.append(f"metadata {k}: {field(k)}, expected {v}")
    tok = json.load(open(f"{folder}/tokenizer.json"))
    tokens = field("tokenizer.ggml.tokens")
    for t, i in tok["model"]["vocab"].items():
        if tokens[i] != t:
            failures.append(f"token {i}: {tokens[i]!r}, expected {t!r}")
            break
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    if field("tokenizer.ggml.merges") != merges:
        failures.append("tokenizer.ggml.merges differ from tokenizer.json's")
    print(f"metadata: {len(r.fields)} keys, {len(tokens)} tokens, {len(merges)} merges checked")

    exact = 0
    for t in r.tensors:
        name = t.name
        w = src[hf_name(name)].astype(np.float32)
        if name.endswith("attn_q.weight"):
            w = permute(w, heads)
        elif name.endswith("attn_k.weight"):
            w = permute(w, kv)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        if shape != w.shape:
            failures.append(f"{name}: shape {shape}, expected {w.shape}")
            continue
        v = gguf.quants.dequantize(t.data, t.tensor_type).reshape(w.shape)
        qt = t.tensor_type
        if qt == T.F32:
            ok = np.array_equal(v, w)
        elif qt == T.F16:
            ok = np.array_equal(v, w.astype(np.float16).astype(np.float32))
        else:
            if qt == T.Q4_K:  # the writer chooses its sub-block scales: bound the tensor's relative error instead
                ok = bool(np.linalg.norm(v - w) <= 0.2 * np.linalg.norm(w))
            else:
                amax = np.abs(w.reshape(-1, 32)).max(axis=1, keepdims=True)
                # Q8_0 rounds to nearest (half a step of amax/127); Q4_0's step is amax/8 and its far end clamps a whole step;
                # the stored scale is fp16, which moves a code of up to 127 (8) steps by up to 2^-11 of it
                bound = amax / 127 * (0.5 + 127 * 2.0 ** -11) if qt == T.Q8_0 else amax / 8 * (1 + 8 * 2.0 ** -11)
                ok = bool((np.abs(v.reshape(-1, 32) - w.reshape(-1, 32)) <= bound + 1e-7).all())
            if qt in (T.Q8_0, T.Q4_0):
                mine = np.asarray(t.data).reshape(-1)
                theirs = gguf.quants.quantize(w, qt).reshape(-1)
                if not np.array_equal(mine, theirs):
                    diff = int((mine != theirs).sum())
                    failures.append(f"{name}: {diff} bytes differ from gguf-py's {qt.name} quantizer")
                else:
                    exact += 1
        if not ok:
            failures.append(f"{name} ({qt.name}): values differ from the source beyond the type's rounding")
    print(f"tensors: {len(r.tensors)} checked, {exact} byte-equal to gguf-py's own quantizer")
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
