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

It also checks and times the Hopper (sm_90a) wgmma/TMA GEMMs of hopper_gemm.cu, with their fused
rescale, against cuBLASLt through torch (torch._int_mm for int8, torch._scaled_mm with row and
column scales for FP8), and the W4A16 kernels of w4a16.cu (GEMV for decode, dequantize + FP16
GEMM for prefill) against FP16 cuBLAS; those need a GPU of compute capability 9.0.

Usage: python3 kernels-cuda/bench/gpu_gemm.py [--ptx-dir DIR] [--output results.json] [--part NAME ...]
Exit status: 0 when every check passed, 1 when one failed, 2 when there is no GPU or CuPy/torch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_launch  # noqa: E402

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
    for fp8, qmax, threads in ((False, 127.0, 256), (True, 448.0, 256), (False, 127.0, cuda_launch.quantize_threads(k)),
                               (True, 448.0, cuda_launch.quantize_threads(k))):
        q = cp.zeros((m, kp), dtype=cp.uint8 if fp8 else cp.int8)
        sx = cp.zeros(m, dtype=cp.float32)
        i32 = cp.int32
        if fp8:
            kernels.quantize_fp8((m,), (threads,), (x, q, sx, i32(m), i32(k), i32(kp)))
        else:
            kernels.quantize_int8((m,), (threads,), (x, q, sx, i32(m), i32(k), i32(kp), i32(127)))
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
    """Milliseconds per run() between CUDA events, launched one by one from Python."""
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


def timed_graph(torch, run, per_graph=20, replays=10):
    """Milliseconds per run() with the launches captured in a CUDA graph and replayed: the GPU's
    time without Python's launch cost (which is larger than a decode-sized kernel). CuPy kernels
    launch on PyTorch's capture stream. Falls back to timed() when capture is refused."""
    import cupy as cp
    try:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), cp.cuda.ExternalStream(stream.cuda_stream):
            for _ in range(3):
                run()
        torch.cuda.current_stream().wait_stream(stream)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            with cp.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream):
                for _ in range(per_graph):
                    run()
        return timed(torch, graph.replay, iterations=replays, warmup=2) / per_graph
    except Exception as e:  # noqa: BLE001 - any capture failure: report the launch-bound time instead
        print(f"(graph capture refused: {e}; timing launches one by one)", flush=True)
        return timed(torch, run)


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



# (name, M, K, N, group, zero points?) for W4A16; K a multiple of 128, the kernels' block
W4_CHECK_SHAPES = [
    ("edges", 5, 256, 200, 32, True), ("one token", 1, 4096, 4096, 128, False), ("M > 16", 33, 512, 100, 64, True),
    ("Llama-7B up", 16, 4096, 11008, 128, True), ("Llama-7B down", 16, 11008, 4096, 128, False),
    ("per channel", 3, 384, 64, 384, True),
]


def torch_codes(torch, rows, k, kp, fp8=False):
    """[rows][kp] codes, zero padded, as torch tensors: int8 in [-127, 127] or e4m3 bytes without NaN."""
    out = torch.zeros(rows, kp, dtype=torch.uint8 if fp8 else torch.int8, device="cuda")
    if fp8:
        c = torch.randint(0, 256, (rows, k), dtype=torch.int32, device="cuda")
        c[(c & 0x7F) == 0x7F] = 0x7E
        out[:, :k] = c.to(torch.uint8)
    else:
        out[:, :k] = torch.randint(-127, 128, (rows, k), dtype=torch.int8, device="cuda")
    return out


def e4m3(torch, codes):
    return codes.view(torch.float8_e4m3fn).to(torch.float64)


def check_hopper(torch, hop, failures):
    """Every wgmma variant against exact sums (int8), the FP32-order rescale, and float64 sums (FP8, FP16)."""
    rows = []
    for name, m, k, n in CHECK_SHAPES:
        kp = padded(k)
        a, b = torch_codes(torch, m, k, kp), torch_codes(torch, n, k, kp)
        exact = a.double() @ b.double().T
        fa, fb = torch_codes(torch, m, k, kp, True), torch_codes(torch, n, k, kp, True)
        da, db = e4m3(torch, fa), e4m3(torch, fb)
        fexact, fmag = da @ db.T, (da.abs() @ db.abs().T).clamp_min(1e-30)
        sx = torch.rand(m, device="cuda") * 0.02 + 1e-3
        sw = torch.rand(n, device="cuda") * 0.02 + 1e-3
        bias = torch.randn(n, device="cuda")
        row = {"name": name, "shape": f"{m}x{k}x{n}"}
        for bn in hop.VARIANTS:
            acc = torch.full((m, n), 12345, dtype=torch.int32, device="cuda")
            hop.gemm("s8", "acc", a, b, acc, m, n, kp, bn)
            y = torch.full((m, n), float("nan"), device="cuda")
            hop.gemm("s8", "rescale", a, b, y, m, n, kp, bn, sx, sw, bias)
            facc = torch.full((m, n), float("nan"), device="cuda")
            hop.gemm("e4m3", "acc", fa, fb, facc, m, n, kp, bn)
            torch.cuda.synchronize()
            # the fused epilogue: (acc · sx) · sw + bias, each rounded to float, as the rescale kernel and the CPU do
            expected_y = (exact.float() * sx[:, None]) * sw[None, :] + bias[None, :]
            row[f"int8_n{bn}_mismatches"] = int((acc.double() != exact).sum())
            row[f"int8_rescale_n{bn}_mismatches"] = int((y != expected_y).sum())
            row[f"fp8_n{bn}_max_relative_error"] = float(((facc.double() - fexact).abs() / fmag).max())
            if bn == 128:
                pacc = torch.full((m, n), float("nan"), device="cuda")
                hop.gemm("e4m3p", "acc", fa, fb, pacc, m, n, kp, 128)
                py = torch.full((m, n), float("nan"), device="cuda")
                hop.gemm("e4m3p", "rescale", fa, fb, py, m, n, kp, 128, sx, sw, bias)
                torch.cuda.synchronize()
                row["fp8_promoted_max_relative_error"] = float(((pacc.double() - fexact).abs() / fmag).max())
                row["fp8_promoted_rescale_mismatches"] = int((py != (pacc * sx[:, None]) * sw[None, :] + bias[None, :]).sum())
            # FP16 GEMM with bias, on the int8 codes as FP16 values (exact in FP16) scaled to fractions
            x16, w16 = (a.float() / 64).half(), (b.float() / 64).half()
            y16 = torch.full((m, n), float("nan"), device="cuda")
            hop.gemm("f16", "rescale", x16, w16, y16, m, n, kp, bn, None, None, bias)
            torch.cuda.synchronize()
            ref16 = x16.double() @ w16.double().T
            mag16 = (x16.double().abs() @ w16.double().abs().T).clamp_min(1e-30)
            row[f"f16_n{bn}_max_relative_error"] = float(((y16.double() - bias.double()[None, :] - ref16).abs() / mag16).max())
        # Hopper's FP8 wgmma does not accumulate in full FP32: one 128-wide K slice already errs by
        # ~1e-3 of Σ|a·b| (measured on an H200), and the error grows with K (1.4e-3 at K = 4096).
        # Promoting each slice into FP32 registers stops the growth (~1e-4 at K = 4096). Both stay far
        # below e4m3's own rounding (2^-4); a wrong fragment mapping errs by order 1.
        bad = any(row[f"int8_n{bn}_mismatches"] or row[f"int8_rescale_n{bn}_mismatches"] or row[f"fp8_n{bn}_max_relative_error"] > 2.0 ** -8
                  or not row[f"f16_n{bn}_max_relative_error"] <= k * 2.0 ** -23 for bn in hop.VARIANTS)
        bad = bad or row["fp8_promoted_rescale_mismatches"] > 0 or not row["fp8_promoted_max_relative_error"] <= 2.0 ** -9
        row["passed"] = not bad
        if bad:
            failures.append(row)
        rows.append(row)
        print(f"hopper {name:18s} {m}x{k}x{n}: " + ", ".join(f"{key}={value:.2e}" if isinstance(value, float) else f"{key}={value}"
                                                         for key, value in row.items() if key not in ("name", "shape")), flush=True)
    return rows


def w4_inputs(torch, w4, m, k, n, group, with_zeros):
    np_ = w4.padded_rows(n)
    codes = torch.randint(0, 16, (n, k), dtype=torch.uint8, device="cuda")
    groups = k // group
    scales = torch.zeros(np_, groups, dtype=torch.float16, device="cuda")
    scales[:n] = (torch.rand(n, groups, device="cuda") * 0.02 + 0.001).half()
    zeros = None
    z = torch.full((n, groups), 8, dtype=torch.int32, device="cuda")
    if with_zeros:
        z = torch.randint(0, 16, (n, groups), dtype=torch.int32, device="cuda")
        zeros = torch.full((np_, groups), 1032, dtype=torch.float16, device="cuda")
        zeros[:n] = (1024 + z).half()
    packed = torch.zeros(np_, k // 8, dtype=torch.int32, device="cuda")
    w4.repack(codes, packed, n, k)
    # the reference dequantization: (q - z) in FP16 (exact) times the FP16 scale, rounded once
    zk = z.repeat_interleave(group, dim=1)
    sk = scales[:n].repeat_interleave(group, dim=1)
    w_ref = (codes.int() - zk).half() * sk
    return codes, packed, scales, zeros, w_ref


def check_w4a16(torch, w4, failures):
    rows = []
    for name, m, k, n, group, with_zeros in W4_CHECK_SHAPES:
        _, packed, scales, zeros, w_ref = w4_inputs(torch, w4, m, k, n, group, with_zeros)
        w = torch.full((n, k), float("nan"), dtype=torch.float16, device="cuda")
        w4.dequant(packed, scales, zeros, w, n, k, group)
        x = torch.randn(m, k, device="cuda")
        bias = torch.randn(n, device="cuda")
        y = torch.empty(m, n, device="cuda")
        w4.gemv(x, packed, scales, zeros, bias, y, m, n, k, group)
        torch.cuda.synchronize()
        xh = x.half().double()
        ref = xh @ w_ref.double().T + bias.double()[None, :]
        mag = (xh.abs() @ w_ref.double().abs().T).clamp_min(1e-30)
        err = float(((y.double() - ref).abs() / mag).max())
        dequant_bad = int((w != w_ref).sum())
        row = {"name": name, "shape": f"{m}x{k}x{n}", "group": group, "zero_points": with_zeros, "dequant_mismatches": dequant_bad,
               "gemv_max_relative_error": err, "bound": k * 2.0 ** -24, "passed": dequant_bad == 0 and err <= k * 2.0 ** -24}
        if not row["passed"]:
            failures.append(row)
        rows.append(row)
        print(f"w4a16 {name:14s} {m}x{k}x{n} g{group}{' zp' if with_zeros else ''}: dequant wrong {dequant_bad}/{n * k}, "
              f"gemv worst error {err:.2e} of Σ|x·w| (FP32 summation bound {k * 2.0 ** -24:.1e})", flush=True)
    return rows


def best_hopper(torch, hop, op, epi, a, b, out, m, n, kp, **kw):
    """(ms, BN) of the faster tile width, each timed with its tensor maps encoded once (as the backend keeps them)."""
    best = None
    for bn in hop.VARIANTS:
        maps = hop.maps(op, a, b, m, n, kp, bn)
        ms = timed_graph(torch, lambda: hop.gemm(op, epi, a, b, out, m, n, kp, bn, maps=maps, **kw))
        if best is None or ms < best[0]:
            best = (ms, bn)
    return best


def bench_hopper(torch, kernels, hop, w4):
    rows = []
    print(f"{'shape':16s} {'MxKxN':>16s} {'int8':>6s} {'_int_mm':>7s} {'fp16':>5s} {'bf16':>5s} {'int8/fp16':>9s} "
          f"{'fp8':>6s} {'scaled_mm':>9s} {'fp8/sc_mm':>9s} {'int8 path':>9s} {'fp8 path':>8s} {'path/fp16':>9s}", flush=True)
    for name, m, k, n in BENCH_SHAPES:
        kp = padded(k)
        ops = 2.0 * m * k * n
        r = {"name": name, "shape": f"{m}x{k}x{n}"}
        a, b = torch_codes(torch, m, k, kp), torch_codes(torch, n, k, kp)
        acc = torch.empty(m, n, dtype=torch.int32, device="cuda")
        r["int8_ms"], r["int8_bn"] = best_hopper(torch, hop, "s8", "acc", a, b, acc, m, n, kp)
        fa, fb = torch_codes(torch, m, k, kp, True), torch_codes(torch, n, k, kp, True)
        facc = torch.empty(m, n, device="cuda")
        r["fp8_ms"], r["fp8_bn"] = best_hopper(torch, hop, "e4m3", "acc", fa, fb, facc, m, n, kp)
        pmaps = hop.maps("e4m3p", fa, fb, m, n, kp, 128)
        r["fp8_promoted_ms"] = timed_graph(torch, lambda: hop.gemm("e4m3p", "acc", fa, fb, facc, m, n, kp, 128, maps=pmaps))
        r["scaled_mm_precise_ms"] = None
        x16 = torch.randn(m, k, device="cuda", dtype=torch.float16)
        w16 = torch.randn(k, n, device="cuda", dtype=torch.float16)
        r["fp16_ms"] = timed_graph(torch, lambda: torch.matmul(x16, w16))
        xb, wb = x16.bfloat16(), w16.bfloat16()
        r["bf16_ms"] = timed_graph(torch, lambda: torch.matmul(xb, wb))
        r["int_mm_ms"] = None
        if m > 16 and k % 8 == 0 and n % 8 == 0:
            ai, bi = a[:, :k].contiguous(), b[:, :k].contiguous().T
            try:
                r["int_mm_ms"] = timed_graph(torch, lambda: torch._int_mm(ai, bi))
            except RuntimeError as e:
                r["int_mm_error"] = str(e).splitlines()[0]
        r["scaled_mm_ms"] = None
        if k % 16 == 0 and n % 16 == 0:
            f8a = fa[:, :k].contiguous().view(torch.float8_e4m3fn)
            f8b = fb[:, :k].contiguous().view(torch.float8_e4m3fn).T
            sa_, sb_ = torch.rand(m, 1, device="cuda") + 0.5, torch.rand(1, n, device="cuda") + 0.5
            try:
                r["scaled_mm_ms"] = timed_graph(torch, lambda: torch._scaled_mm(f8a, f8b, sa_, sb_, out_dtype=torch.bfloat16, use_fast_accum=True))
                r["scaled_mm_precise_ms"] = timed_graph(torch, lambda: torch._scaled_mm(f8a, f8b, sa_, sb_, out_dtype=torch.bfloat16,
                                                                                  use_fast_accum=False))
            except RuntimeError as e:
                r["scaled_mm_error"] = str(e).splitlines()[0]
        # whole W8A8 paths: float32 activations -> per-token quantize -> GEMM with the fused rescale epilogue
        x = torch.randn(m, k, device="cuda")
        q, sx, y = torch.empty(m, kp, dtype=torch.int8, device="cuda"), torch.empty(m, device="cuda"), torch.empty(m, n, device="cuda")
        sw, bias = torch.full((n,), 0.01, device="cuda"), torch.zeros(n, device="cuda")
        i32 = kernels.cp.int32
        qx, qq, qs = kernels.cp.asarray(x), kernels.cp.asarray(q), kernels.cp.asarray(sx)
        fq = torch.empty(m, kp, dtype=torch.uint8, device="cuda")
        fqq = kernels.cp.asarray(fq)
        maps8 = hop.maps("s8", q, b, m, n, kp, r["int8_bn"])
        mapsf = hop.maps("e4m3", fq, fb, m, n, kp, r["fp8_bn"])

        qt = cuda_launch.quantize_threads(k)

        def int8_path():
            kernels.quantize_int8((m,), (qt,), (qx, qq, qs, i32(m), i32(k), i32(kp), i32(127)))
            hop.gemm("s8", "rescale", q, b, y, m, n, kp, r["int8_bn"], sx, sw, bias, maps=maps8)

        def fp8_path():
            kernels.quantize_fp8((m,), (qt,), (qx, fqq, qs, i32(m), i32(k), i32(kp)))
            hop.gemm("e4m3", "rescale", fq, fb, y, m, n, kp, r["fp8_bn"], sx, sw, bias, maps=mapsf)
        r["int8_path_ms"] = timed_graph(torch, int8_path)
        r["fp8_path_ms"] = timed_graph(torch, fp8_path)
        r["quantize_ms"] = timed_graph(torch, lambda: kernels.quantize_int8((m,), (qt,), (qx, qq, qs, i32(m), i32(k), i32(kp), i32(127))))
        for key in ("int8", "fp8", "fp8_promoted", "fp16", "bf16", "int_mm", "scaled_mm", "scaled_mm_precise"):
            ms = r[key + "_ms"]
            r[key + "_tops"] = None if ms is None else ops / ms / 1e9
        r["int8_over_fp16"] = r["fp16_ms"] / r["int8_ms"]
        r["fp8_over_scaled_mm"] = None if r["scaled_mm_ms"] is None else r["scaled_mm_ms"] / r["fp8_ms"]
        r["int8_path_over_fp16"] = r["fp16_ms"] / r["int8_path_ms"]
        r["fp8_path_over_fp16"] = r["fp16_ms"] / r["fp8_path_ms"]
        rows.append(r)
        f = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        print(f"{name:16s} {r['shape']:>16s} {r['int8_tops']:6.0f} {f(r['int_mm_tops']):>7s} {r['fp16_tops']:5.0f} {r['bf16_tops']:5.0f} "
              f"{r['int8_over_fp16']:8.2f}x {r['fp8_tops']:6.0f} {f(r['scaled_mm_tops']):>9s} "
              f"{'-' if r['fp8_over_scaled_mm'] is None else format(r['fp8_over_scaled_mm'], '.2f') + 'x':>9s} "
              f"{r['int8_path_ms']:7.3f}ms {r['fp8_path_ms']:6.3f}ms {r['int8_path_over_fp16']:8.2f}x   fp8 promoted {f(r['fp8_promoted_tops'])}, "
              f"scaled_mm precise {f(r['scaled_mm_precise_tops'])}, quantize {r['quantize_ms']:.3f}ms", flush=True)
    print("(TOPS / TFLOPS of the GEMM alone, 2·M·K·N per second; int8 / fp8: hopper_gemm.cu, best of BN 128 / 256; _int_mm and "
          "scaled_mm: cuBLASLt through torch; path: quantize + GEMM + fused rescale, float32 in and out)", flush=True)
    rows.extend(bench_w4a16(torch, hop, w4))
    return rows


W4_BENCH_SHAPES = [("Llama-7B up decode", 16, 4096, 11008), ("Llama-7B up 1 token", 1, 4096, 11008),
                   ("Llama-7B down decode", 16, 11008, 4096), ("Llama-7B up prefill", 4096, 4096, 11008)]


def bench_w4a16(torch, hop, w4):
    rows = []
    print(f"{'W4A16 shape':22s} {'MxKxN':>16s} {'fp16 ms':>8s} {'w4a16 ms':>8s} {'ratio':>6s} {'(cuBLAS) ms':>11s} {'ratio':>6s}", flush=True)
    for name, m, k, n in W4_BENCH_SHAPES:
        _, packed, scales, zeros, _ = w4_inputs(torch, w4, m, k, n, 128, False)
        x = torch.randn(m, k, device="cuda")
        x16 = x.half()
        w16t = torch.randn(k, n, device="cuda", dtype=torch.float16)
        fp16_ms = timed_graph(torch, lambda: torch.matmul(x16, w16t))
        y = torch.empty(m, n, device="cuda")
        r = {"name": "w4a16 " + name, "shape": f"{m}x{k}x{n}", "fp16_ms": fp16_ms}
        if m <= 16:
            r["w4a16_ms"] = timed_graph(torch, lambda: w4.gemv(x, packed, scales, zeros, None, y, m, n, k, 128))
            r["w4a16_kernel"] = "gemv (incl. zeroing y)"
        else:
            w = torch.empty(n, k, dtype=torch.float16, device="cuda")
            xh = torch.empty(m, k, dtype=torch.float16, device="cuda")
            bn = 256
            maps = hop.maps("f16", xh, w, m, n, k, bn)

            def own():
                w4.dequant(packed, scales, zeros, w, n, k, 128)
                w4.to_f16(x, xh)
                hop.gemm("f16", "rescale", xh, w, y, m, n, k, bn, maps=maps)

            def cublas():
                w4.dequant(packed, scales, zeros, w, n, k, 128)
                w4.to_f16(x, xh)
                torch.matmul(xh, w.T)
            r["w4a16_ms"] = timed_graph(torch, own)
            r["w4a16_kernel"] = "dequant + own FP16 wgmma GEMM"
            r["w4a16_cublas_ms"] = timed_graph(torch, cublas)
        r["w4a16_over_fp16"] = fp16_ms / r["w4a16_ms"]
        cub = r.get("w4a16_cublas_ms")
        print(f"{name:22s} {r['shape']:>16s} {fp16_ms:8.4f} {r['w4a16_ms']:8.4f} {r['w4a16_over_fp16']:5.2f}x "
              f"{'-' if cub is None else format(cub, '.4f'):>11s} {'-' if cub is None else format(fp16_ms / cub, '.2f') + 'x':>6s}", flush=True)
        rows.append(r)
    print("(fp16: torch.matmul FP16 with FP16 weights; w4a16: 4-bit weights, group 128, FP32 input and output)", flush=True)
    return rows


def experiments(torch, kernels, hop, w4):
    """Where the time of the whole paths goes: epilogue variants, quantize block sizes, the W4A16 pieces.
    Every row is printed when measured; one that fails is reported and the rest go on."""
    rows = []

    def measure(name, run, work=None, unit="tops"):
        try:
            ms = timed_graph(torch, run)
            row = {"experiment": name, "ms": ms}
            if work:
                row[unit] = work / ms / 1e9
        except Exception as e:  # noqa: BLE001
            row = {"experiment": name, "error": str(e).splitlines()[0]}
        rows.append(row)
        print("experiment " + ", ".join(f"{k_}={v:.4f}" if isinstance(v, float) else f"{k_}={v}" for k_, v in row.items()), flush=True)

    m = k = n = 4096
    a, b = torch_codes(torch, m, k, k), torch_codes(torch, n, k, k)
    out = torch.empty(m, n, device="cuda")
    sx, sw, bias = torch.rand(m, device="cuda"), torch.rand(n, device="cuda"), torch.rand(n, device="cuda")
    for bn in (128, 256):
        maps = hop.maps("s8", a, b, m, n, k, bn)
        for label, kw in (("acc", {}), ("rescale sx sw bias", {"sx": sx, "sw": sw, "bias": bias}), ("rescale sx sw", {"sx": sx, "sw": sw}),
                          ("rescale only cast", {})):
            epi = "acc" if label == "acc" else "rescale"
            measure(f"s8 {label} n{bn} 4096^3", lambda: hop.gemm("s8", epi, a, b, out, m, n, k, bn, maps=maps, **kw), 2.0 * m * n * k)
    i32 = kernels.cp.int32
    for kk in (4096, 11008):
        x = torch.randn(4096, kk, device="cuda")
        q = torch.empty(4096, padded(kk), dtype=torch.int8, device="cuda")
        s_ = torch.empty(4096, device="cuda")
        qx, qq, qs = kernels.cp.asarray(x), kernels.cp.asarray(q), kernels.cp.asarray(s_)
        for threads in (64, 128, 256, 512):
            measure(f"quantize 4096x{kk} {threads} threads",
                    lambda: kernels.quantize_int8((4096,), (threads,), (qx, qq, qs, i32(4096), i32(kk), i32(padded(kk)), i32(127))),
                    4096 * kk * 5, "gb_s")
    _, packed, scales, zeros, _ = w4_inputs(torch, w4, 16, 4096, 11008, 128, False)
    y = torch.empty(16, 11008, device="cuda")
    for tokens in (1, 16):
        x = torch.randn(tokens, 4096, device="cuda")
        measure(f"w4a16 gemv {tokens}x4096x11008 incl. zeroing", lambda: w4.gemv(x, packed, scales, zeros, None, y, tokens, 11008, 4096, 128),
                11008 * 4096 / 2, "weight_gb_s")
    measure("zeroing y alone", lambda: y.zero_())
    w = torch.empty(11008, 4096, dtype=torch.float16, device="cuda")
    measure("w4_dequant 11008x4096", lambda: w4.dequant(packed, scales, zeros, w, 11008, 4096, 128), 11008 * 4096 * 2.5, "gb_s")
    xb = torch.randn(4096, 4096, device="cuda")
    xh = torch.empty(4096, 4096, dtype=torch.float16, device="cuda")
    measure("f32_to_f16 4096x4096", lambda: w4.to_f16(xb, xh), 4096 * 4096 * 6, "gb_s")
    maps = hop.maps("f16", xh, w, 4096, 11008, 4096, 256)
    yb = torch.empty(4096, 11008, device="cuda")
    measure("own f16 wgmma GEMM 4096x4096x11008 (f32 out)", lambda: hop.gemm("f16", "rescale", xh, w, yb, 4096, 11008, 4096, 256, maps=maps),
            2.0 * 4096 * 4096 * 11008)
    measure("cuBLAS f16 GEMM 4096x4096x11008 (f16 out)", lambda: torch.matmul(xh, w.T), 2.0 * 4096 * 4096 * 11008)
    x16 = torch.randn(16, 4096, device="cuda", dtype=torch.float16)
    w16t = torch.randn(4096, 11008, device="cuda", dtype=torch.float16)
    measure("cuBLAS f16 16x4096x11008", lambda: torch.matmul(x16, w16t), 11008 * 4096 * 2, "weight_gb_s")
    return rows


def sass_report(cubin):
    """Counts of the Hopper MMA instructions and of local-memory traffic per kernel, when cuobjdump is here."""
    tool = None
    for candidate in ("cuobjdump", "/usr/local/cuda/bin/cuobjdump"):
        if subprocess.run(["which", candidate], capture_output=True).returncode == 0 or os.path.exists(candidate):
            tool = candidate
            break
    if tool is None:
        return {"skipped": "cuobjdump not found"}
    sass = subprocess.run([tool, "--dump-sass", cubin], capture_output=True, text=True).stdout
    report, current = {}, None
    for line in sass.splitlines():
        if "Function :" in line:
            current = line.split("Function :")[1].strip()
            report[current] = {"IGMMA": 0, "QGMMA": 0, "HGMMA": 0, "LDL": 0, "STL": 0}
        elif current:
            for op in report[current]:
                if f" {op}" in line:
                    report[current][op] += 1
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptx-dir", help="folder with the built kernels (default: build them with nvcc now)")
    ap.add_argument("--output", help="write the checks and timings as JSON here")
    ap.add_argument("--part", action="append", choices=["check", "bench", "hopper-check", "w4a16-check", "hopper-bench", "sass", "experiments"],
                    help="run only these parts (default: all)")
    args = ap.parse_args(argv)
    parts = args.part or ["check", "bench", "hopper-check", "w4a16-check", "hopper-bench", "sass"]
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
    kernel_dir = build_ptx(args.ptx_dir)
    kernels = Kernels(cp, kernel_dir)
    rng = np.random.default_rng(7)
    torch.manual_seed(7)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cupy {cp.__version__}", flush=True)
    failures = []
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    capability = torch.cuda.get_device_capability()
    hopper = capability == (9, 0)
    hop = w4 = None
    if hopper or "w4a16-check" in parts:
        driver = cuda_launch.Driver(torch)
        hop = cuda_launch.Hopper(driver, os.path.join(kernel_dir, "hopper_gemm.sm_90a.cubin")) if hopper else None
        w4 = cuda_launch.W4A16(driver, os.path.join(kernel_dir, "w4a16.ptx"))
    started = time.time()
    for part in parts:
        t0 = time.time()
        if part == "check":
            report["checks"] = check(torch, cp, kernels, rng, failures)
        elif part == "bench":
            report["bench"] = bench(torch, cp, kernels, rng)
        elif part == "w4a16-check":
            report["w4a16_checks"] = check_w4a16(torch, w4, failures)
        elif not hopper:
            report[part] = f"skipped: compute capability {capability[0]}.{capability[1]}, the sm_90a kernels need 9.0"
        elif part == "hopper-check":
            report["hopper_checks"] = check_hopper(torch, hop, failures)
        elif part == "hopper-bench":
            report["hopper_bench"] = bench_hopper(torch, kernels, hop, w4)
        elif part == "experiments":
            report["experiments"] = experiments(torch, kernels, hop, w4)
        elif part == "sass":
            report["sass"] = sass_report(os.path.join(kernel_dir, "hopper_gemm.sm_90a.cubin"))
            print("sass:", json.dumps(report["sass"]), flush=True)
        print(f"[{part}: {time.time() - t0:.1f} s]", flush=True)
        if args.output:  # after every part, so that a later hang or crash loses nothing
            tmp = args.output + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f, indent=2)
            os.replace(tmp, args.output)
    print(f"checks: {'all passed' if not failures else f'{len(failures)} shapes FAILED'} ({time.time() - started:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
