package org.fmsmo.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * NVIDIA's cuBLASLt ({@code libcublasLt.so.13} or {@code .12}) through the FFM API: the vendor
 * GEMM that our own kernels are measured and checked against, and that the W8A8 backends may
 * choose ({@code gemm=cublaslt}, or {@code auto} when it is faster for a shape). It computes the
 * accumulators only: acc = A · Bᵀ with int8 operands and exact int32 results, or e4m3 operands
 * and FP32 results (fast accumulation, as our wgmma kernel); the rescale kernel follows.
 * Layouts: our row-major [rows][Kp] buffers are cuBLAS's column-major Kp × rows, so
 * D (column-major N × M, i.e. row-major [M][N]) = op(W)ᵀ · X with TRANSA = T: the "TN" case that
 * int8 and FP8 tensor-core GEMMs need.
 */
final class CublasLt implements AutoCloseable {

    private static final List<String> NAMES = List.of("libcublasLt.so.13", "libcublasLt.so.12");
    private static final List<String> DIRS = List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
            "/usr/lib/x86_64-linux-gnu", "/usr/local/cuda/lib");
    // cublasLt.h
    private static final int COMPUTE_32F = 68;
    private static final int COMPUTE_32I = 72;
    private static final int R_32F = 0;
    private static final int R_8I = 3;
    private static final int R_32I = 10;
    private static final int R_8F_E4M3 = 28;
    private static final int DESC_TRANSA = 3;
    private static final int DESC_TRANSB = 4;
    private static final int DESC_FAST_ACCUM = 25;
    private static final int PREF_MAX_WORKSPACE_BYTES = 1;
    private static final int OP_N = 0;
    private static final int OP_T = 1;
    /** cublasLtMatmulHeuristicResult_t: algo (64 bytes), workspaceSize, state, wavesCount, reserved[4]. */
    private static final long HEURISTIC_BYTES = 96;
    private static final long WORKSPACE = 32L << 20;

    private final CudaDevice gpu;
    private final Path library;
    private final MethodHandle create;
    private final MethodHandle destroy;
    private final MethodHandle descCreate;
    private final MethodHandle descDestroy;
    private final MethodHandle descSet;
    private final MethodHandle layoutCreate;
    private final MethodHandle layoutDestroy;
    private final MethodHandle prefCreate;
    private final MethodHandle prefDestroy;
    private final MethodHandle prefSet;
    private final MethodHandle heuristic;
    private final MethodHandle matmul;
    private final long version;
    private final MemorySegment handle;
    private final long workspace;
    private final Arena arena = Arena.ofShared();
    private final List<Plan> plans = new ArrayList<>();
    private boolean closed;

    /** Where cuBLASLt would be loaded from: LD_LIBRARY_PATH, the CUDA toolkit, the system, an installed PyTorch's nvidia wheels. */
    static Optional<Path> find() {
        return find(searchPath(System.getenv("LD_LIBRARY_PATH"), List.of(Path.of("/opt"), Path.of("/usr/local/lib"),
                Path.of(System.getProperty("user.home"), ".local/lib"))));
    }

    /** The folders looked in, in order; {@code wheelRoots} are searched a few levels down for {@code nvidia/{cu13,cublas}/lib}. */
    static List<Path> searchPath(String ldLibraryPath, List<Path> wheelRoots) {
        List<Path> dirs = new ArrayList<>();
        if (ldLibraryPath != null) {
            Stream.of(ldLibraryPath.split(":")).filter(d -> !d.isBlank()).map(Path::of).forEach(dirs::add);
        }
        DIRS.forEach(d -> dirs.add(Path.of(d)));
        for (Path root : wheelRoots) {
            try (Stream<Path> s = Files.isDirectory(root) ? Files.find(root, 7, (p, a) -> p.endsWith("nvidia") && a.isDirectory()) : Stream.empty()) {
                s.sorted().forEach(n -> {
                    dirs.add(n.resolve("cu13/lib"));
                    dirs.add(n.resolve("cublas/lib"));
                });
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                // an unreadable folder: look elsewhere
            }
        }
        return dirs;
    }

    /** The first {@code libcublasLt.so.13} (or {@code .12}) in these folders. */
    static Optional<Path> find(List<Path> dirs) {
        for (Path d : dirs) {
            for (String name : NAMES) {
                if (Files.isRegularFile(d.resolve(name))) {
                    return Optional.of(d.resolve(name));
                }
            }
        }
        return Optional.empty();
    }

    CublasLt(CudaDevice gpu, Path library) {
        this.gpu = gpu;
        this.library = library;
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        create = bind(lib, "cublasLtCreate", ADDRESS);
        destroy = bind(lib, "cublasLtDestroy", ADDRESS);
        descCreate = bind(lib, "cublasLtMatmulDescCreate", ADDRESS, JAVA_INT, JAVA_INT);
        descDestroy = bind(lib, "cublasLtMatmulDescDestroy", ADDRESS);
        descSet = bind(lib, "cublasLtMatmulDescSetAttribute", ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        layoutCreate = bind(lib, "cublasLtMatrixLayoutCreate", ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        layoutDestroy = bind(lib, "cublasLtMatrixLayoutDestroy", ADDRESS);
        prefCreate = bind(lib, "cublasLtMatmulPreferenceCreate", ADDRESS);
        prefDestroy = bind(lib, "cublasLtMatmulPreferenceDestroy", ADDRESS);
        prefSet = bind(lib, "cublasLtMatmulPreferenceSetAttribute", ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        heuristic = bind(lib, "cublasLtMatmulAlgoGetHeuristic", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT,
                ADDRESS, ADDRESS);
        matmul = bind(lib, "cublasLtMatmul", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
        MemorySegment getVersion = lib.find("cublasLtGetVersion").orElseThrow(() -> missing("cublasLtGetVersion"));
        try {
            version = (long) Linker.nativeLinker().downcallHandle(getVersion, FunctionDescriptor.of(JAVA_LONG)).invokeExact();
        } catch (Throwable t) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, "cublasLtGetVersion could not be called: " + t, t);
        }
        gpu.api.setCurrent(gpu.context);
        MemorySegment h = arena.allocate(ADDRESS);
        check("cublasLtCreate", create, h);
        handle = h.get(ADDRESS, 0);
        workspace = gpu.api.malloc(WORKSPACE);
    }

    private FmsmoException missing(String name) {
        return new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, library + " has no function " + name);
    }

    private MethodHandle bind(SymbolLookup lib, String name, ValueLayout... args) {
        MemorySegment f = lib.find(name).orElseThrow(() -> missing(name));
        return Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(JAVA_INT, args));
    }

    private static void check(String call, MethodHandle h, Object... args) {
        int status;
        try {
            status = (int) h.invokeWithArguments(args);
        } catch (Throwable t) {
            throw new FmsmoException(ErrorCode.INTERNAL, call + " could not be called: " + t, t);
        }
        if (status != 0) {
            throw new FmsmoException(ErrorCode.BACKEND_UNAVAILABLE, call + " failed: cublasStatus " + status);
        }
    }

    /** The library file and its version, e.g. {@code libcublasLt.so.13 (130100)}. */
    String describe() {
        return library.getFileName() + " (" + version + ")";
    }

    /** One GEMM shape, prepared once: descriptors and the algorithm cuBLASLt's heuristic picked. */
    final class Plan {
        final MemorySegment desc;
        final MemorySegment layoutA;
        final MemorySegment layoutB;
        final MemorySegment layoutD;
        final MemorySegment algo;
        final MemorySegment alpha;
        final MemorySegment beta;

        private Plan(MemorySegment desc, MemorySegment a, MemorySegment b, MemorySegment d, MemorySegment algo, MemorySegment alpha,
                     MemorySegment beta) {
            this.desc = desc;
            this.layoutA = a;
            this.layoutB = b;
            this.layoutD = d;
            this.algo = algo;
            this.alpha = alpha;
            this.beta = beta;
        }
    }

    /**
     * Prepares acc[M][N] = X[M][Kp] · W[N][Kp]ᵀ for int8 (int32 accumulators) or e4m3 (FP32), or
     * returns empty when cuBLASLt has no algorithm for the shape (int8 needs N a multiple of 4, for example).
     */
    synchronized Optional<Plan> plan(boolean int8, int m, int n, int kp) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cublasLtMatmulDescCreate", descCreate, p, int8 ? COMPUTE_32I : COMPUTE_32F, int8 ? R_32I : R_32F);
            MemorySegment desc = p.get(ADDRESS, 0);
            check("cublasLtMatmulDescSetAttribute(TRANSA)", descSet, desc, DESC_TRANSA, a.allocateFrom(JAVA_INT, OP_T), 4L);
            check("cublasLtMatmulDescSetAttribute(TRANSB)", descSet, desc, DESC_TRANSB, a.allocateFrom(JAVA_INT, OP_N), 4L);
            if (!int8) {
                check("cublasLtMatmulDescSetAttribute(FAST_ACCUM)", descSet, desc, DESC_FAST_ACCUM, a.allocateFrom(ValueLayout.JAVA_BYTE, (byte) 1),
                        1L);
            }
            int in = int8 ? R_8I : R_8F_E4M3;
            int out = int8 ? R_32I : R_32F;
            MemorySegment la = layout(a, in, kp, n, kp); // W: column-major Kp x N, transposed by TRANSA
            MemorySegment lb = layout(a, in, kp, m, kp); // X: column-major Kp x M
            MemorySegment ld = layout(a, out, n, m, n); // acc: column-major N x M = row-major [M][N]
            check("cublasLtMatmulPreferenceCreate", prefCreate, p);
            MemorySegment pref = p.get(ADDRESS, 0);
            MemorySegment results = arena.allocate(HEURISTIC_BYTES, 8);
            MemorySegment count = a.allocate(JAVA_INT);
            try {
                check("cublasLtMatmulPreferenceSetAttribute", prefSet, pref, PREF_MAX_WORKSPACE_BYTES, a.allocateFrom(JAVA_LONG, WORKSPACE), 8L);
                int status = (int) heuristic.invokeWithArguments(handle, desc, la, lb, ld, ld, pref, 1, results, count);
                if (status != 0 || count.get(JAVA_INT, 0) == 0) {
                    check("cublasLtMatrixLayoutDestroy", layoutDestroy, la);
                    check("cublasLtMatrixLayoutDestroy", layoutDestroy, lb);
                    check("cublasLtMatrixLayoutDestroy", layoutDestroy, ld);
                    check("cublasLtMatmulDescDestroy", descDestroy, desc);
                    return Optional.empty();
                }
            } catch (FmsmoException e) {
                throw e;
            } catch (Throwable t) {
                throw new FmsmoException(ErrorCode.INTERNAL, "cublasLtMatmulAlgoGetHeuristic could not be called: " + t, t);
            } finally {
                check("cublasLtMatmulPreferenceDestroy", prefDestroy, pref);
            }
            MemorySegment alpha = int8 ? arena.allocateFrom(JAVA_INT, 1) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
            MemorySegment beta = int8 ? arena.allocateFrom(JAVA_INT, 0) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
            Plan plan = new Plan(desc, la, lb, ld, results.asSlice(0, 64), alpha, beta);
            plans.add(plan);
            return Optional.of(plan);
        }
    }

    private MemorySegment layout(Arena a, int type, long rows, long cols, long ld) {
        MemorySegment p = a.allocate(ADDRESS);
        check("cublasLtMatrixLayoutCreate", layoutCreate, p, type, rows, cols, ld);
        return p.get(ADDRESS, 0);
    }

    /** acc = x · wᵀ on a stream (NULL: the default stream), with the plan's algorithm. */
    void run(Plan plan, long weights, long activations, long acc, MemorySegment stream) {
        check("cublasLtMatmul", matmul, handle, plan.desc, plan.alpha, MemorySegment.ofAddress(weights), plan.layoutA,
                MemorySegment.ofAddress(activations), plan.layoutB, plan.beta, MemorySegment.ofAddress(acc), plan.layoutD,
                MemorySegment.ofAddress(acc), plan.layoutD, plan.algo, MemorySegment.ofAddress(workspace), WORKSPACE, stream);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            for (Plan p : plans) {
                check("cublasLtMatrixLayoutDestroy", layoutDestroy, p.layoutA);
                check("cublasLtMatrixLayoutDestroy", layoutDestroy, p.layoutB);
                check("cublasLtMatrixLayoutDestroy", layoutDestroy, p.layoutD);
                check("cublasLtMatmulDescDestroy", descDestroy, p.desc);
            }
            check("cublasLtDestroy", destroy, handle);
            gpu.api.setCurrent(gpu.context);
            gpu.api.free(workspace);
        } catch (RuntimeException e) {
            // close never throws
        } finally {
            arena.close();
        }
    }
}
