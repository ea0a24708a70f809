package org.fmsmo.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.junit.jupiter.api.Test;

/** The GPU backends' options and choices that need no GPU. */
class CudaOptionsTest {

    @Test
    void badOptionsAreRefusedBeforeTheDriverLoads() {
        FmsmoException e = assertThrows(FmsmoException.class, () -> new CudaInt8Provider().create(Map.of("gemm", "cutlass")));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertEquals("cuda-int8 option gemm must be auto, wgmma, mma or cublaslt; got cutlass", e.getMessage());
        e = assertThrows(FmsmoException.class, () -> new CudaInt8Provider().create(Map.of("accumulate", "promoted")));
        assertEquals("cuda-int8 has no option accumulate; it takes [gemm]", e.getMessage());
        e = assertThrows(FmsmoException.class, () -> new CudaFp8Provider().create(Map.of("accumulate", "exact")));
        assertEquals("cuda-fp8 option accumulate must be fast or promoted; got exact", e.getMessage());
        assertEquals(List.of("gemm", "accumulate"), List.copyOf(new CudaFp8Provider().options().keySet()));
    }

    /** The tile width leaves the fewest SMs idle in the last wave at 4096 tokens (132 SMs: H100 SXM, H200). */
    @Test
    void tileWidthFollowsWaveQuantization() {
        assertEquals(256, W8A8Gemm.tileWidth(4096, 132)); // 512 tiles: 3.9 waves either way
        assertEquals(128, W8A8Gemm.tileWidth(11008, 132)); // 1376 tiles of 256 fill 10.4 waves; 2752 of 128 fill 20.8
        assertEquals(128, W8A8Gemm.tileWidth(1536, 132)); // 192 tiles: 1.45 waves; 384: 2.9
        assertEquals(256, W8A8Gemm.tileWidth(8192, 132));
    }

    /** About 8 float4 per thread, never more than the 12 the register path holds; as cuda_launch.quantize_threads. */
    @Test
    void quantizeThreadsKeepRowsInRegisters() {
        assertEquals(128, W8A8Gemm.quantizeThreads(4096));
        assertEquals(256, W8A8Gemm.quantizeThreads(11008));
        assertEquals(320, W8A8Gemm.quantizeThreads(14336));
        assertEquals(32, W8A8Gemm.quantizeThreads(45));
        assertEquals(768, W8A8Gemm.quantizeThreads(65536)); // past 36864 the kernels read the row twice
        for (int k = 4; k <= 36864; k += 4) {
            int t = W8A8Gemm.quantizeThreads(k);
            assertTrue(t % 32 == 0 && k / 4 <= 12 * t, k + " -> " + t);
        }
        assertEquals(201792, W8A8Gemm.hopperSharedBytes(256, 4)); // as cuda_launch.hopper_shared_bytes
    }

    /** cuBLASLt is looked for on LD_LIBRARY_PATH first, then in the toolkit, then in PyTorch's nvidia wheels; 13 before 12. */
    @Test
    void cublasLtIsFoundWhereCudaAndPyTorchPutIt(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path wheels = dir.resolve("venv/lib/python3.12/site-packages/nvidia/cu13/lib");
        java.nio.file.Files.createDirectories(wheels);
        java.nio.file.Path ld = dir.resolve("ld");
        java.nio.file.Files.createDirectories(ld);
        List<java.nio.file.Path> path = CublasLt.searchPath(ld.toString(), List.of(dir));
        assertEquals(ld, path.getFirst());
        assertTrue(path.contains(wheels), path.toString());
        assertTrue(CublasLt.find(List.of(ld, wheels)).isEmpty());
        java.nio.file.Files.writeString(wheels.resolve("libcublasLt.so.13"), "");
        assertEquals(wheels.resolve("libcublasLt.so.13"), CublasLt.find(List.of(ld, wheels)).orElseThrow());
        java.nio.file.Files.writeString(ld.resolve("libcublasLt.so.12"), "");
        assertEquals(ld.resolve("libcublasLt.so.12"), CublasLt.find(List.of(ld, wheels)).orElseThrow(), "the first folder wins");
    }

    @Test
    void jsonReportEscapesAndNests() {
        String json = GpuCheck.Json.write(Map.of("k", List.of(1, 2.5, "a\"b\n", true, Double.NaN)));
        assertEquals("{\"k\": [\n  1,\n  2.5,\n  \"a\\\"b\\u000a\",\n  true,\n  null\n]}\n", json);
        assertTrue(GpuCheck.Json.write(Map.of()).equals("{}\n"));
    }
}
