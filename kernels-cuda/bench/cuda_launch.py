"""The CUDA driver calls that the Hopper kernels need and CuPy does not offer, through ctypes.

The wgmma GEMMs take TMA descriptors (CUtensorMap, 128 bytes, passed by value) and more than
48 KiB of dynamic shared memory; this module encodes the descriptors with cuTensorMapEncodeTiled,
raises the shared-memory limit with cuFuncSetAttribute and launches with cuLaunchKernel on
PyTorch's current stream, the same calls CudaApi makes from Java. Buffers are torch tensors.
"""
import ctypes

CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
# CUtensorMapDataType
UINT8, FLOAT16 = 0, 6
SWIZZLE_128B = 3
L2_PROMOTION_256B = 3

HOPPER_BM = 128
HOPPER_SLICE = 128


class TensorMap(ctypes.Structure):
    _fields_ = [("opaque", ctypes.c_uint64 * 16)]


def new_tensor_map():
    """A zeroed CUtensorMap at a 64-byte aligned address (the driver requires it), kept alive by its buffer."""
    buf = ctypes.create_string_buffer(128 + 64)
    address = (ctypes.addressof(buf) + 63) // 64 * 64
    m = TensorMap.from_address(address)
    m._buffer = buf
    return m


class Driver:
    def __init__(self, torch):
        self.torch = torch
        torch.cuda.init()
        torch.zeros(1, device="cuda")  # makes the primary context current on this thread
        self.lib = ctypes.CDLL("libcuda.so.1")
        self.modules = []
        dev = ctypes.c_int()
        self.check("cuCtxGetDevice", self.lib.cuCtxGetDevice(ctypes.byref(dev)))
        count = ctypes.c_int()
        self.check("cuDeviceGetAttribute", self.lib.cuDeviceGetAttribute(ctypes.byref(count), CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev))
        self.sms = count.value

    def check(self, call, result):
        if result != 0:
            name = ctypes.c_char_p()
            self.lib.cuGetErrorName(result, ctypes.byref(name))
            raise RuntimeError(f"{call} failed: {name.value.decode() if name.value else result}")

    def load(self, path):
        module = ctypes.c_void_p()
        data = open(path, "rb").read()
        buf = ctypes.create_string_buffer(data, len(data) + 1)
        self.check(f"cuModuleLoadData({path})", self.lib.cuModuleLoadData(ctypes.byref(module), buf))
        self.modules.append((module, buf))
        return module

    def function(self, module, name, shared_bytes=0):
        f = ctypes.c_void_p()
        self.check(f"cuModuleGetFunction({name})", self.lib.cuModuleGetFunction(ctypes.byref(f), module, name.encode()))
        if shared_bytes > 48 * 1024:
            self.check("cuFuncSetAttribute", self.lib.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared_bytes))
        return f

    def tensor_map(self, tensor, rows, row_elements, box_rows, dtype):
        """2-D map over a row-major [rows][row_elements] tensor, boxes of box_rows x 128 bytes, 128B swizzle."""
        element = 2 if dtype == FLOAT16 else 1
        m = new_tensor_map()
        dims = (ctypes.c_uint64 * 2)(row_elements, rows)
        strides = (ctypes.c_uint64 * 1)(row_elements * element)
        box = (ctypes.c_uint32 * 2)(HOPPER_SLICE // element, box_rows)
        unit = (ctypes.c_uint32 * 2)(1, 1)
        self.check("cuTensorMapEncodeTiled", self.lib.cuTensorMapEncodeTiled(
            ctypes.byref(m), dtype, 2, ctypes.c_void_p(tensor.data_ptr()), dims, strides, box, unit, 0, SWIZZLE_128B,
            L2_PROMOTION_256B, 0))
        return m

    def launch(self, f, grid, block, shared_bytes, *args):
        """args: TensorMap, torch tensors (device pointers), None (null pointer), ctypes ints/floats."""
        values = []
        for a in args:
            if isinstance(a, (TensorMap, ctypes.c_int, ctypes.c_float, ctypes.c_longlong)):
                values.append(a)
            elif a is None:
                values.append(ctypes.c_void_p(0))
            else:
                values.append(ctypes.c_void_p(a.data_ptr()))
        params = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        grid = tuple(grid) + (1,) * (3 - len(grid))
        stream = ctypes.c_void_p(self.torch.cuda.current_stream().cuda_stream)
        self.check("cuLaunchKernel", self.lib.cuLaunchKernel(f, *grid, block, 1, 1, shared_bytes, stream, params, None))


def hopper_shared_bytes(bn, stages):
    """Tiles, barriers, the epilogue's column vectors (2 warpgroups x 2 x BN floats), 1 KiB alignment slack."""
    return stages * (HOPPER_BM + bn) * HOPPER_SLICE + 2 * stages * 8 + 16 * bn + 1024


def quantize_threads(k):
    """Threads per row for the per-token quantize kernels, as W8A8Gemm.quantizeThreads: about 8 float4
    per thread (measured fastest on an H200), at most 12 (the register path's limit), 32 to 768 (70 registers a thread)."""
    threads = (-(-k // 32) + 31) // 32 * 32
    if threads > 256:
        threads = max(256, (-(-k // 48) + 31) // 32 * 32)
    return max(32, min(768, threads))


class Hopper:
    """The sm_90a GEMMs of hopper_gemm.cu: C = A · Bᵀ with fused rescale, int8 / e4m3 / FP16."""
    VARIANTS = {256: 4, 128: 6}  # BN -> stages, as instantiated in hopper_gemm.cu
    # e4m3p: FP8 with per-slice promotion into FP32 registers (BN = 128 only)
    OPS = {"s8": VARIANTS, "e4m3": VARIANTS, "e4m3p": {128: 6}, "f16": VARIANTS}

    def __init__(self, driver, cubin):
        self.d = driver
        module = driver.load(cubin)
        self.f = {}
        for op, variants in self.OPS.items():
            for epi in ("acc", "rescale"):
                if op == "f16" and epi == "acc":
                    continue
                for bn, stages in variants.items():
                    self.f[(op, epi, bn)] = driver.function(module, f"hopper_{op}_{epi}_n{bn}", hopper_shared_bytes(bn, stages))

    def maps(self, op, a, b, m, n, k_elements, bn):
        dtype = FLOAT16 if op == "f16" else UINT8
        return (self.d.tensor_map(a, m, k_elements, HOPPER_BM, dtype), self.d.tensor_map(b, n, k_elements, bn, dtype))

    def gemm(self, op, epi, a, b, out, m, n, k_elements, bn=256, sx=None, sw=None, bias=None, maps=None):
        ma, mb = maps or self.maps(op, a, b, m, n, k_elements, bn)
        tiles = -(-m // HOPPER_BM) * -(-n // bn)
        k_bytes = k_elements * (2 if op == "f16" else 1)
        self.d.launch(self.f[(op, epi, bn)], (min(tiles, self.d.sms),), 384, hopper_shared_bytes(bn, self.OPS[op][bn]),
                      ma, mb, out, sx, sw, bias, ctypes.c_int(m), ctypes.c_int(n), ctypes.c_int(k_bytes))


class W4A16:
    """w4a16.ptx: repack, the decode GEMV (≤ 16 tokens per block row) and the prefill dequantization."""
    ROWS = 256  # output features per GEMV block; packed weights, scales and zeros have N rounded up to it

    def __init__(self, driver, ptx):
        self.d = driver
        module = driver.load(ptx)
        self.repack_f = driver.function(module, "w4_repack")
        self.gemv_f = driver.function(module, "w4a16_gemv")
        self.dequant_f = driver.function(module, "w4_dequant")
        self.f16_f = driver.function(module, "f32_to_f16")

    def padded_rows(self, n):
        return -(-n // self.ROWS) * self.ROWS

    def repack(self, codes, packed, n, k):
        np_ = packed.shape[0]
        words = np_ * k // 8
        self.d.launch(self.repack_f, (-(-words // 256),), 256, 0, codes, packed, ctypes.c_int(n), ctypes.c_int(np_), ctypes.c_int(k),
                      ctypes.c_int(8))

    K_SPLIT = 512  # K per block row of the GEMV grid, as in w4a16.cu

    def gemv(self, x, packed, scales, zeros, bias, y, m, n, k, group):
        grid = (packed.shape[0] // self.ROWS, -(-k // self.K_SPLIT), -(-m // 16))
        y.zero_()
        self.d.launch(self.gemv_f, grid, 256, 0, x, packed, scales, zeros, bias, y, ctypes.c_int(m), ctypes.c_int(n), ctypes.c_int(k),
                      ctypes.c_int(group))

    def dequant(self, packed, scales, zeros, w, n, k, group):
        words = n * k // 32
        self.d.launch(self.dequant_f, (-(-words // 256),), 256, 0, packed, scales, zeros, w, ctypes.c_int(n), ctypes.c_int(k),
                      ctypes.c_int(group))

    def to_f16(self, x, out):
        count = x.numel()
        self.d.launch(self.f16_f, (-(-count // 1024),), 256, 0, x, out, ctypes.c_longlong(count))
