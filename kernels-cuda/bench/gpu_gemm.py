#!/usr/bin/env python3
"""Checks and times the kernels-cuda PTX on a GPU, next to torch.matmul on the same GPU.

This runs the very PTX that the cuda-int8 / cuda-fp8 backends load (built here by
src/main/cuda/build-kernels.sh, or taken from --ptx-dir), through CuPy instead of the JVM, so
that a GPU machine without a JDK can answer two questions in one run:

1. correctness: the int8 GEMM's int32 accumulators equal exact sums (float64 products of the
   codes, exact below 2^53) on random and real layer shapes, every element; the per-token
   quantize kernels give the codes and scales of the simulated quantizers; the FP8 GEMM's error
   against the float64 sum of the decoded e4m3 products is measured (and must be far below what a
   wrong fragment mapping gives);
2. speed: the GEMM kernels alone and the whole device path (quantize + GEMM + rescale), timed
   with CUDA events, against torch.matmul in FP16 and BF16 (and torch._int_mm, cuBLASLt's
   int8 GEMM, where this torch has it), at 4096^3 and at the MiniLM, tiny-llama and Llama-7B
   layer shapes.

Usage: python3 kernels-cuda/bench/gpu_gemm.py [--ptx-dir DIR] [--output results.json]
Exit status: 0 when every check passed, 1 when one failed, 2 when there is no GPU or CuPy/torch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
K_STEP = 32  # the GEMM kernels consume K in steps of 32 bytes; rows are zero-padded to it

# (name, M, K, N): M tokens, K inputs, N outputs
CHECK_SHAPES = [
    ("random edges", 7, 45, 19), ("random", 130, 300, 257), ("one token", 1, 4096, 4096),
    ("MiniLM qkv", 128, 384, 384), ("MiniLM up", 128, 384, 1536), ("MiniLM down", 128, 1536, 384),
    ("tiny-llama up", 512, 128, 344), ("tiny-llama down", 512, 344, 128),
    ("Llama-7B qkv", 256, 4096, 4096), ("Llama-7B up", 256, 4096, 11008), ("Llama-7B down", 256, 11008, 4096),
]
BENCH_SHAPES = [
    ("square", 4096, 4096, 4096),
    ("MiniLM up", 4096, 384, 1536), ("MiniLM down", 4096, 1536, 384),
    ("tiny-llama up", 4096, 128, 344),
    ("Llama-7B qkv", 4096, 4096, 4096), ("Llama-7B up", 4096, 4096, 11008), ("Llama-7B down", 4096, 11008, 4096),
    ("Llama-7B decode", 16, 4096, 11008),
]


def padded(k):
    return (k + K_STEP - 1) // K_STEP * K_STEP


def build_ptx(ptx_dir):
    if ptx_dir:
        return ptx_dir
    out = tempfile.mkdtemp(prefix="fmsmo-ptx-")
    subprocess.run(["bash", os.path.join(HERE, "..", "src", "main", "cuda", "build-kernels.sh"), out], check=True)
    if "status=built" not in open(os.path.join(out, "kernels.properties")).read():
        raise SystemExit("no PTX: nvcc was not found (see " + out + "/kernels.properties)")
    return out


class Kernels:
    def __init__(self, cp, ptx_dir):
        self.cp = cp
        i8 = cp.RawModule(path=os.path.join(ptx_dir, "int8_gemm.ptx"))
        f8 = cp.RawModule(path=os.path.join(ptx_dir, "fp8_gemm.ptx"))
        self.quantize_int8 = i8.get_function("quantize_per_token")
        self.gemm_int8 = i8.get_function("gemm_s8s8s32")
        self.rescale_int8 = i8.get_function("rescale")
        self.quantize_fp8 = f8.get_function("quantize_fp8_per_token")
        self.gemm_fp8 = f8.get_function("gemm_e4m3_f32")
        self.rescale_fp8 = f8.get_function("rescale_f32")

    # launch geometry as CudaLinear uses it
    def int8_gemm(self, q, w, acc, m, n, kp):
        i32 = self.cp.int32
        self.gemm_int8(((n + 127) // 128, (m + 127) // 128), (256,), (q, w, acc, i32(m), i32(n), i32(kp)))

    def fp8_gemm(self, q, w, acc, m, n, kp):
        i32 = self.cp.int32
        self.gemm_fp8(((n + 63) // 64, (m + 63) // 64), (128,), (q, w, acc, i32(m), i32(n), i32(kp)))

    def int8_forward(self, x, q, sx, w, sw, acc, y, dummy_bias, m, k, n, kp):
        i32 = self.cp.int32
        self.quantize_int8((m,), (256,), (x, q, sx, i32(m), i32(k), i32(kp), i32(127)))
        self.int8_gemm(q, w, acc, m, n, kp)
        self.rescale_int8(((m * n + 255) // 256,), (256,), (acc, sx, sw, dummy_bias, y, i32(m), i32(n), i32(0)))

    def fp8_forward(self, x, q, sx, w, sw, acc, y, dummy_bias, m, k, n, kp):
        i32 = self.cp.int32
        self.quantize_fp8((m,), (256,), (x, q, sx, i32(m), i32(k), i32(kp)))
        self.fp8_gemm(q, w, acc, m, n, kp)
        self.rescale_fp8(((m * n + 255) // 256,), (256,), (acc, sx, sw, dummy_bias, y, i32(m), i32(n), i32(0)))


def random_codes(cp, rows, k, kp, rng, fp8=False):
    """[rows][kp] codes with zero padding: int8 in [-127, 127], or e4m3 bytes without the NaN codes."""
    codes = cp.zeros((rows, kp), dtype=cp.uint8 if fp8 else cp.int8)
    if fp8:
        c = cp.asarray(rng.integers(0, 256, size=(rows, k)), dtype=cp.uint8)
        c[(c & 0x7F) == 0x7F] = 0x7E  # 0x7F / 0xFF are NaN in e4m3
    else:
        c = cp.asarray(rng.integers(-127, 128, size=(rows, k)), dtype=cp.int8)
    codes[:, :k] = c
    return codes


def check(torch, cp, kernels, rng, failures):
    rows = []
    for name, m, k, n in CHECK_SHAPES:
        kp = padded(k)
        # int8: every accumulator against the exact sum
        a, b = random_codes(cp, m, k, kp, rng), random_codes(cp, n, k, kp, rng)
        acc = cp.zeros((m, n), dtype=cp.int32)
        kernels.int8_gemm(a, b, acc, m, n, kp)
        exact = a.astype(cp.float64) @ b.astype(cp.float64).T
        int8_bad = int(cp.count_nonzero(acc.astype(cp.float64) != exact))
        # fp8: against the float64 sum of the decoded products. The error is reported relative to
        # Σ|a·b| (which bounds every partial sum): a wrong fragment mapping gives errors of order 1,
        # FP32 summation about K·2^-24 at most; Hopper's FP8 tensor cores are reported to keep fewer
        # accumulator bits, so only errors above 2^-10 fail and the measured worst is printed.
        fa, fb = random_codes(cp, m, k, kp, rng, fp8=True), random_codes(cp, n, k, kp, rng, fp8=True)
        facc = cp.zeros((m, n), dtype=cp.float32)
        kernels.fp8_gemm(fa, fb, facc, m, n, kp)
        da, db = decode_e4m3(torch, cp, fa), decode_e4m3(torch, cp, fb)
        magnitude = cp.maximum(cp.abs(da) @ cp.abs(db).T, 1e-30)
        fp8_rel = float((cp.abs(facc.astype(cp.float64) - da @ db.T) / magnitude).max())
        fp8_bad = int(fp8_rel > 2.0 ** -10)
        q_bad = check_quantizers(torch, cp, kernels, rng, m, k, kp)
        rows.append({"shape": f"{m}x{k}x{n}", "name": name, "int8_mismatches": int8_bad, "fp8_max_relative_error": fp8_rel,
                     "quantize_mismatches": q_bad})
        if int8_bad or fp8_bad or q_bad:
            failures.append(rows[-1])
        print(f"check {name:18s} {m}x{k}x{n}: int8 accumulators wrong {int8_bad}/{m * n}, "
              f"fp8 worst error {fp8_rel:.2e} of Σ|a·b| (FP32 summation: ≤ {k * 2.0 ** -24:.1e}), quantize codes/scales wrong {q_bad}", flush=True)
    return rows


def decode_e4m3(torch, cp, codes):
    t = torch.as_tensor(codes, device="cuda").view(torch.float8_e4m3fn).to(torch.float64)
    return cp.asarray(t)


def check_quantizers(torch, cp, kernels, rng, m, k, kp):
    """Per-token codes and scales of both quantize kernels against the simulated quantizers' formulas."""
    x = cp.asarray(rng.standard_normal((m, k)) * 3, dtype=cp.float32)
    amax = cp.abs(x).max(axis=1)
    bad = 0
    for fp8, qmax in ((False, 127.0), (True, 448.0)):
        q = cp.zeros((m, kp), dtype=cp.uint8 if fp8 else cp.int8)
        sx = cp.zeros(m, dtype=cp.float32)
        i32 = cp.int32
        if fp8:
            kernels.quantize_fp8((m,), (256,), (x, q, sx, i32(m), i32(k), i32(kp)))
        else:
            kernels.quantize_int8((m,), (256,), (x, q, sx, i32(m), i32(k), i32(kp), i32(127)))
        s = amax / cp.float32(qmax)
        s = cp.where(s == 0, cp.float32(1), s).astype(cp.float32)
        v = x / s[:, None]
        if fp8:
            expected = cp.asarray(torch.as_tensor(v, device="cuda").to(torch.float8_e4m3fn).view(torch.uint8))
        else:
            expected = cp.clip(cp.rint(v), -127, 127).astype(cp.int8)
        bad += int(cp.count_nonzero(q[:, :k] != expected)) + int(cp.count_nonzero(q[:, k:])) + int(cp.count_nonzero(sx != s))
    return bad


def timed(torch, run, iterations=50, warmup=10):
    for _ in range(warmup):
        run()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(iterations):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iterations


def bench(torch, cp, kernels, rng):
    rows = []
    head = f"{'shape':18s} {'MxKxN':>18s} {'int8 TOPS':>10s} {'fp8 TFLOPS':>10s} {'fp16':>8s} {'bf16':>8s} {'_int_mm':>8s} {'int8/fp16':>9s} {'fp8/fp16':>8s} {'int8 path':>9s} {'fp8 path':>8s}"
    print(head, flush=True)
    for name, m, k, n in BENCH_SHAPES:
        kp = padded(k)
        ops = 2.0 * m * k * n
        a, b = random_codes(cp, m, k, kp, rng), random_codes(cp, n, k, kp, rng)
        acc = cp.zeros((m, n), dtype=cp.int32)
        fa, fb = random_codes(cp, m, k, kp, rng, fp8=True), random_codes(cp, n, k, kp, rng, fp8=True)
        facc = cp.zeros((m, n), dtype=cp.float32)
        int8_ms = timed(torch, lambda: kernels.int8_gemm(a, b, acc, m, n, kp))
        fp8_ms = timed(torch, lambda: kernels.fp8_gemm(fa, fb, facc, m, n, kp))
        x16 = torch.randn(m, k, device="cuda", dtype=torch.float16)
        w16 = torch.randn(k, n, device="cuda", dtype=torch.float16)
        fp16_ms = timed(torch, lambda: torch.matmul(x16, w16))
        xb, wb = x16.bfloat16(), w16.bfloat16()
        bf16_ms = timed(torch, lambda: torch.matmul(xb, wb))
        int_mm_ms = None
        if hasattr(torch, "_int_mm") and m > 16 and k % 8 == 0 and n % 8 == 0:
            ai = torch.randint(-127, 128, (m, k), device="cuda", dtype=torch.int8)
            bi = torch.randint(-127, 128, (k, n), device="cuda", dtype=torch.int8)
            int_mm_ms = timed(torch, lambda: torch._int_mm(ai, bi))
        # the whole device path: quantize + GEMM + rescale, float input to float output
        x = cp.asarray(rng.standard_normal((m, k)), dtype=cp.float32)
        q, sx, y = cp.zeros((m, kp), dtype=cp.int8), cp.zeros(m, dtype=cp.float32), cp.zeros((m, n), dtype=cp.float32)
        sw, dummy = cp.full(n, 0.01, dtype=cp.float32), cp.zeros(1, dtype=cp.float32)
        int8_path_ms = timed(torch, lambda: kernels.int8_forward(x, q, sx, b, sw, acc, y, dummy, m, k, n, kp))
        fq = cp.zeros((m, kp), dtype=cp.uint8)
        fp8_path_ms = timed(torch, lambda: kernels.fp8_forward(x, fq, sx, fb, sw, facc, y, dummy, m, k, n, kp))
        r = {"name": name, "shape": f"{m}x{k}x{n}", "int8_gemm_ms": int8_ms, "fp8_gemm_ms": fp8_ms, "fp16_ms": fp16_ms,
             "bf16_ms": bf16_ms, "int_mm_ms": int_mm_ms, "int8_path_ms": int8_path_ms, "fp8_path_ms": fp8_path_ms,
             "int8_tops": ops / int8_ms / 1e9, "fp8_tflops": ops / fp8_ms / 1e9, "fp16_tflops": ops / fp16_ms / 1e9,
             "bf16_tflops": ops / bf16_ms / 1e9, "int_mm_tops": None if int_mm_ms is None else ops / int_mm_ms / 1e9,
             "int8_over_fp16": fp16_ms / int8_ms, "fp8_over_fp16": fp16_ms / fp8_ms}
        rows.append(r)
        int_mm = "-" if int_mm_ms is None else f"{r['int_mm_tops']:.0f}"
        print(f"{name:18s} {r['shape']:>18s} {r['int8_tops']:10.0f} {r['fp8_tflops']:10.0f} {r['fp16_tflops']:8.0f} "
              f"{r['bf16_tflops']:8.0f} {int_mm:>8s} {r['int8_over_fp16']:8.2f}x {r['fp8_over_fp16']:7.2f}x "
              f"{int8_path_ms:8.3f}ms {fp8_path_ms:7.3f}ms", flush=True)
    print("(TOPS / TFLOPS: 2·M·K·N per second of the GEMM kernel alone; 'path' columns: quantize + GEMM + rescale, ms)")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptx-dir", help="folder with int8_gemm.ptx and fp8_gemm.ptx (default: build them with nvcc now)")
    ap.add_argument("--output", help="write the checks and timings as JSON here")
    ap.add_argument("--skip-bench", action="store_true", help="correctness only")
    args = ap.parse_args(argv)
    try:
        import cupy as cp
        import numpy as np
        import torch
    except ImportError as e:
        print(f"gpu_gemm: needs CuPy, NumPy and PyTorch: {e}", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("gpu_gemm: no CUDA GPU visible to PyTorch", file=sys.stderr)
        return 2
    kernels = Kernels(cp, build_ptx(args.ptx_dir))
    rng = np.random.default_rng(7)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cupy {cp.__version__}", flush=True)
    failures = []
    report = {"device": torch.cuda.get_device_name(), "checks": check(torch, cp, kernels, rng, failures)}
    if not args.skip_bench:
        report["bench"] = bench(torch, cp, kernels, rng)
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, args.output)
    print("checks: " + ("all passed" if not failures else f"{len(failures)} shapes FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
