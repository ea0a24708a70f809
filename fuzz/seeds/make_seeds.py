#!/usr/bin/env python3
"""Writes the valid seed inputs of ParsersFuzzTest (small, committed): one per target, so that the
fuzzer starts from inputs that reach deep into each parser. Run from the repository root:
  python3 fuzz/seeds/make_seeds.py
"""
import json
import os
import struct

ROOT = "fuzz/src/test/resources/org/fmsmo/fuzz/ParsersFuzzTestInputs"


def seed(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)"""
    header, offset, blob = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blob += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def ints(values):
    return struct.pack("<%di" % len(values), *values)


def floats(values):
    return struct.pack("<%df" % len(values), *values)


def halfs(values):
    return struct.pack("<%de" % len(values), *values)


seed("safetensorsHeader", "two-tensors", safetensors([
    ("a.weight", "F32", [2, 3], floats([0.5, -1, 2, 0, 1e-3, 7])),
    ("b.weight", "BF16", [4], struct.pack("<4H", 0x3F80, 0xBF80, 0x4000, 0)),
], {"format": "pt"}))

seed("configJson", "llama", json.dumps({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 128, "intermediate_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 256, "tie_word_embeddings": False,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192}}, indent=1))

# One seed per built-in architecture: the configs transformers 5.17 wrote for the architecture fixtures.
ARCHS = "fmsmo-core/src/test/resources/archs"
for arch in sorted(os.listdir(ARCHS)):
    with open(os.path.join(ARCHS, arch, "config.json")) as f:
        seed("configJson", arch, f.read())

seed("recipe", "ptq", json.dumps({"description": "seed", "config": {
    "nbits_w": 4, "nbits_a": 8, "qw_mode": "maxperCh", "qa_mode": "pertokenmax", "qskip_layer_name": ["lm_head"],
    "qspecial_layers": {"model.layers.0.mlp.down_proj": {"nbits_w": 8}}, "smoothq": True, "smoothq_alpha": 0.5}}, indent=1))


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


# ModelProto{ir_version=8, graph=GraphProto{node=[MatMul(x, w) -> y], name, initializer=[w: FLOAT [2,2]], input x, output y}}
tensor = field(1, 0, varint(2)) + field(1, 0, varint(2)) + field(2, 0, varint(1)) + field(8, 2, b"w") + field(9, 2, floats([1, 2, 3, 4]))
node = field(1, 2, b"x") + field(1, 2, b"w") + field(2, 2, b"y") + field(3, 2, b"mm") + field(4, 2, b"MatMul")
graph = field(1, 2, node) + field(2, 2, b"g") + field(5, 2, tensor) + field(11, 2, field(1, 2, b"x")) + field(12, 2, field(1, 2, b"y"))
seed("onnxModel", "matmul", field(1, 0, varint(8)) + field(7, 2, graph))

# compressed-tensors pack-quantized W4 group 8: one layer [out 8, in 16]
codes = [(r * 16 + c) % 16 for r in range(8) for c in range(16)]
packed = [sum(codes[r * 16 + w * 8 + k] << (4 * k) for k in range(8)) for r in range(8) for w in range(2)]
packed = [p - (1 << 32) if p >= 1 << 31 else p for p in packed]
seed("compressedTensorsReader", "w4g8", safetensors([
    ("l.weight_packed", "I32", [8, 2], ints(packed)),
    ("l.weight_shape", "I32", [2], ints([8, 16])),
    ("l.weight_scale", "F32", [8, 2], floats([0.01 * (i + 1) for i in range(16)])),
]))

# GPTQ v1 W4 group 8: qweight [in/8, out] packed along the input, qzeros [groups, out/8], scales F16 [groups, out], g_idx [in]
qweight = [sum(codes[(w * 8 + k) % 16] << (4 * k) for k in range(8)) for w in range(2) for o in range(8)]
qweight = [p - (1 << 32) if p >= 1 << 31 else p for p in qweight]
zeros = [sum(7 << (4 * k) for k in range(8))] * 2
seed("gptqReader", "w4g8", safetensors([
    ("l.qweight", "I32", [2, 8], ints(qweight)),
    ("l.qzeros", "I32", [2, 1], ints(zeros)),
    ("l.scales", "F16", [2, 8], halfs([0.01 * (i + 1) for i in range(16)])),
    ("l.g_idx", "I32", [16], ints([c // 8 for c in range(16)])),
]))

seed("pluginManifest", "descriptor", "Manifest-Version: 1.0\nPlugin-Id: seed\nPlugin-Version: 1.2.3\nPlugin-Requires: >=1.0 & <2\n"
     "Plugin-Provider: fmsmo\nPlugin-Description: a seed\n\n")
print("wrote seeds under", ROOT)

# tokenizerJson: a word-level tokenizer and a byte-level BPE one with a normalizer sequence, the
# shapes the native library reads (its parse panics abort the JVM, so the Java check runs first)
WORD = {"version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordLevel", "vocab": {"<unk>": 0, "a": 1, "b": 2, ",": 3}, "unk_token": "<unk>"}}
seed("tokenizerJson", "wordlevel.json", json.dumps(WORD, indent=1))
BPE = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
       "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
       "decoder": {"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
                                                    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                 "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                 "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "\u0120": 5},
                 "merges": ["a b", "ab c"]}}
seed("tokenizerJson", "bpe.json", json.dumps(BPE, indent=1))


# ggufReader: a one-block Llama (hidden 32, 2 heads, vocabulary 4) in GGUF v3, with F32 norms,
# Q8_0 and Q4_0 weights and a gpt2 tokenizer: the reader parses the header, decodes every tensor
# and rebuilds config.json and tokenizer.json
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, vtype, payload):
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def gguf_array(etype, items):
    body = b"".join(gguf_string(i) if etype == 8 else struct.pack("<i", i) for i in items)
    return struct.pack("<IQ", etype, len(items)) + body


U32 = lambda v: struct.pack("<I", v)
F32 = lambda v: struct.pack("<f", v)
kvs = [gguf_kv("general.architecture", 8, gguf_string("llama")), gguf_kv("general.alignment", 4, U32(32)),
       gguf_kv("llama.vocab_size", 4, U32(4)), gguf_kv("llama.context_length", 4, U32(16)),
       gguf_kv("llama.embedding_length", 4, U32(32)), gguf_kv("llama.block_count", 4, U32(1)),
       gguf_kv("llama.feed_forward_length", 4, U32(32)), gguf_kv("llama.attention.head_count", 4, U32(2)),
       gguf_kv("llama.attention.head_count_kv", 4, U32(2)), gguf_kv("llama.attention.layer_norm_rms_epsilon", 6, F32(1e-5)),
       gguf_kv("llama.rope.freq_base", 6, F32(10000.0)), gguf_kv("tokenizer.ggml.model", 8, gguf_string("gpt2")),
       gguf_kv("tokenizer.ggml.pre", 8, gguf_string("gpt-2")),
       gguf_kv("tokenizer.ggml.tokens", 9, gguf_array(8, ["a", "b", "ab", "<s>"])),
       gguf_kv("tokenizer.ggml.token_type", 9, gguf_array(5, [1, 1, 1, 3])),
       gguf_kv("tokenizer.ggml.merges", 9, gguf_array(8, ["a b"])),
       gguf_kv("tokenizer.ggml.bos_token_id", 4, U32(3)), gguf_kv("tokenizer.ggml.add_bos_token", 7, b"\x01")]
q8_row = struct.pack("<e", 0.01) + bytes(range(32))
q4_row = struct.pack("<e", 0.02) + bytes(range(16))
tensors = [("token_embd.weight", [32, 4], 8, q8_row * 4), ("output_norm.weight", [32], 0, F32(1.0) * 32)]
for part in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
    tensors.append((f"blk.0.{part}.weight", [32, 32], 2, q4_row * 32))
for part in ("attn_norm", "ffn_norm"):
    tensors.append((f"blk.0.{part}.weight", [32], 0, F32(1.0) * 32))
infos, data = b"", b""
for name, dims, ttype, raw in tensors:
    infos += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
    infos += struct.pack("<IQ", ttype, len(data))
    data += raw + b"\0" * (-len(raw) % 32)
head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + infos
seed("ggufReader", "llama-q4", head + b"\0" * (-len(head) % 32) + data)
