#!/usr/bin/env python3
"""Compare the tensors two safetensors model folders have in common, byte for byte.

Used to check a streamed run's output against a whole-model (in-memory) run of a model that shares
its first blocks: a streamed 32-layer llama-3-8b-shaped run against the in-memory run of the
2-layer model synthesized with the same seed. Blocks do not depend on the blocks after them, so
their codes and scales must be the same bytes.

    bench/same_tensors.py A B [--match REGEX]

Prints one line per compared tensor group and a summary; exit 0 when every tensor named in both
(and matching REGEX) has the same dtype, shape and bytes, 1 when one differs, 2 on bad input.
Reads only the headers and the compared ranges (no third-party packages).
"""
import json
import os
import re
import struct
import sys


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def tensors(folder):
    """name -> (file, dtype, shape, absolute start, length) for every .safetensors file in folder."""
    if not os.path.isdir(folder):
        fail(f"expected a model folder, found no folder at {folder}")
    out = {}
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    if not files:
        fail(f"expected .safetensors files in {folder}, found none")
    for name in files:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                fail(f"expected an 8-byte header length at the start of {path}, found {len(raw)} bytes")
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000:
                fail(f"expected a header under 100 MB in {path}, found {n} bytes")
            header = json.loads(f.read(n))
        for key, t in header.items():
            if key == "__metadata__":
                continue
            start, end = t["data_offsets"]
            out[key] = (path, t["dtype"], tuple(t["shape"]), 8 + n + start, end - start)
    return out


def same_bytes(a, b, chunk=1 << 24):
    (pa, _, _, sa, la), (pb, _, _, sb, lb) = a, b
    if la != lb:
        return False
    with open(pa, "rb") as fa, open(pb, "rb") as fb:
        fa.seek(sa)
        fb.seek(sb)
        left = la
        while left:
            k = min(chunk, left)
            if fa.read(k) != fb.read(k):
                return False
            left -= k
    return True


def main(argv):
    args, pattern = [], None
    i = 0
    while i < len(argv):
        if argv[i] == "--match":
            if i + 1 >= len(argv):
                fail("expected a regular expression after --match")
            pattern = re.compile(argv[i + 1])
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        fail(f"expected two model folders, found {len(args)} arguments (usage: same_tensors.py A B [--match REGEX])")
    a, b = tensors(args[0]), tensors(args[1])
    common = sorted(k for k in a if k in b and (pattern is None or pattern.search(k)))
    if not common:
        fail(f"expected tensors named in both {args[0]} and {args[1]}, found none")
    differ, total = [], 0
    for k in common:
        ta, tb = a[k], b[k]
        total += ta[4]
        if ta[1] != tb[1] or ta[2] != tb[2]:
            differ.append(f"{k}: {ta[1]}{list(ta[2])} against {tb[1]}{list(tb[2])}")
        elif not same_bytes(ta, tb):
            differ.append(f"{k}: same dtype and shape, different bytes")
    for line in differ:
        print(f"differs  {line}")
    print(f"{len(common) - len(differ)}/{len(common)} common tensors identical ({total / 2**20:.1f} MiB compared); "
          f"only in A: {sum(1 for k in a if k not in b)}, only in B: {sum(1 for k in b if k not in a)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
