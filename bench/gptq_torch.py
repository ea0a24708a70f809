#!/usr/bin/env python3
"""The PyTorch GPTQ reference that bench/gptq.sh times next to fmsmo's.

A plain GPTQ as published (Frantar et al. 2022) and as the common PyTorch implementations run it
on a CPU: the Hessian accumulated batch by batch as a running mean of 2/N X^T X (float32), dead
inputs set to H_ii = 1, dampening of damp * mean(diag H), then torch.linalg.cholesky,
torch.cholesky_inverse and an upper Cholesky of H^-1, and the blocked column loop with lazy updates
(block 128), symmetric W4 with groups of 128 fitted on the updated weights.

Same shapes and phases as GptqBenchmark: 8,192 calibration rows of correlated inputs with every
97th channel 10x louder, a Gaussian weight [out, in]; one untimed warm-up, then the median of
--repeat runs for the Hessian, the factorisation and the quantization.

  gptq_torch.py --shapes 2048,4096,4096x14336 --tokens 8192 --repeat 3 --output FILE
"""
import argparse
import json
import math
import os
import statistics
import time

import torch


def inputs(tokens, n, gen):
    x = torch.randn(tokens, n, generator=gen)
    # each column leaks into the next: x_j += 0.5 x_{j-1}, as a running recurrence
    for j in range(1, n):
        x[:, j] += 0.5 * x[:, j - 1]
    x[:, ::97] *= 10
    return x


def hessian(x, batch=2048):
    n = x.shape[1]
    h = torch.zeros(n, n)
    seen = 0
    for start in range(0, x.shape[0], batch):
        part = x[start:start + batch]
        rows = part.shape[0]
        h *= seen / (seen + rows)
        seen += rows
        inp = math.sqrt(2 / seen) * part.t()
        h += inp.matmul(inp.t())
    return h


def factor(h, damp=0.01):
    h = h.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    h += damp * torch.mean(torch.diag(h)) * torch.eye(h.shape[0])
    lower = torch.linalg.cholesky(h)
    hinv = torch.cholesky_inverse(lower)
    return torch.linalg.cholesky(hinv, upper=True)


def fit(w, bits):
    maxq = 2 ** (bits - 1) - 1
    amax = w.abs().amax(dim=1)
    scale = amax / ((2 ** bits - 1) / 2)
    scale[scale == 0] = 1
    return scale, maxq


def quantize(w, u, bits=4, group=128, block=128):
    w = w.clone()
    out, cols = w.shape
    q = torch.zeros_like(w)
    scale, maxq = fit(w[:, :group], bits)
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        u1 = u[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = w1[:, i]
            d = u1[i, i]
            if (i1 + i) % group == 0:
                scale, maxq = fit(w[:, i1 + i:i1 + i + group], bits)
            qc = torch.clamp(torch.round(col / scale), -maxq - 1, maxq) * scale
            q1[:, i] = qc
            e = (col - qc) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(u1[i, i:].unsqueeze(0))
            err1[:, i] = e
        q[:, i1:i2] = q1
        w[:, i2:] -= err1.matmul(u[i1:i2, i2:])
    return q


def measure(n_in, n_out, tokens, repeat):
    gen = torch.Generator().manual_seed(n_in)
    x = inputs(tokens, n_in, gen)
    w = torch.randn(n_out, n_in, generator=gen) * 0.02
    times = {"hessian_s": [], "factor_s": [], "quantize_s": []}
    for r in range(-1, repeat):
        t0 = time.perf_counter()
        h = hessian(x)
        t1 = time.perf_counter()
        u = factor(h)
        t2 = time.perf_counter()
        quantize(w, u)
        t3 = time.perf_counter()
        if r >= 0:
            times["hessian_s"].append(t1 - t0)
            times["factor_s"].append(t2 - t1)
            times["quantize_s"].append(t3 - t2)
    row = {"in": n_in, "out": n_out, "tokens": tokens}
    for k, v in times.items():
        row[k] = statistics.median(v)
    row["total_s"] = row["hessian_s"] + row["factor_s"] + row["quantize_s"]
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="1024,2048,4096")
    p.add_argument("--tokens", type=int, default=8192)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--output")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    # Debian's build runs its own loops on one OpenMP thread (two are slower here: they fight
    # OpenBLAS's threads); its matmuls and LAPACK calls go to the system BLAS, OpenBLAS, threaded.
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} cores")
    print(f"{'in x out':>12} {'hessian_s':>10} {'factor_s':>10} {'quant_s':>10} {'total_s':>10}")
    rows = []
    for shape in a.shapes.split(","):
        io = shape.split("x")
        n_in = int(io[0])
        n_out = int(io[1]) if len(io) > 1 else n_in
        row = measure(n_in, n_out, a.tokens, a.repeat)
        rows.append(row)
        print(f"{shape:>12} {row['hessian_s']:10.3f} {row['factor_s']:10.3f} {row['quantize_s']:10.3f} {row['total_s']:10.3f}",
              flush=True)
    if a.output:
        tmp = a.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"benchmark": "gptq-torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "layers": rows}, f, indent=2)
        os.replace(tmp, a.output)
        print("wrote " + a.output)


if __name__ == "__main__":
    main()
