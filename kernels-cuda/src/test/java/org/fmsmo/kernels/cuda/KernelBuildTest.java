package org.fmsmo.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the build made, checked without a GPU: the sm_90a cubin holds every Hopper kernel the
 * layers launch, ptxas reports no register spills for any of them, and (where cuobjdump is
 * installed) their SASS runs on the warpgroup tensor cores: IGMMA for int8, QGMMA for FP8,
 * HGMMA for FP16, with no local-memory loads or stores.
 */
class KernelBuildTest {

    /** Every Hopper kernel the Java side names. */
    private static final List<String> HOPPER_KERNELS = Stream.of("s8", "e4m3").flatMap(op -> Stream.of(128, 256)
            .map(n -> "hopper_" + op + "_rescale_n" + n)).toList();

    private static Map<String, String> ptxasReport() {
        assumeTrue(Kernels.missing().isEmpty(), () -> "no kernels in this build: " + Kernels.missing().orElse(""));
        String log = new String(Kernels.bytes("hopper_gemm.ptxas.txt"), StandardCharsets.UTF_8);
        // "Compiling entry function 'NAME' for 'sm_90a'" ... "N bytes stack frame, S bytes spill stores, L bytes spill loads"
        Matcher m = Pattern.compile("Compiling entry function '(\\w+)' for 'sm_90a'\\s*\\n.*?Function properties for \\1\\s*\\n\\s*(.*?)\\n",
                Pattern.DOTALL).matcher(log);
        Map<String, String> spills = new LinkedHashMap<>();
        while (m.find()) {
            spills.put(m.group(1), m.group(2).trim());
        }
        return spills;
    }

    @Test
    void hopperCubinHasEveryKernelAndNoSpills() {
        Map<String, String> report = ptxasReport();
        System.out.println("ptxas, sm_90a: " + report);
        List<String> expected = Stream.concat(HOPPER_KERNELS.stream(), Stream.of("hopper_e4m3p_rescale_n128", "hopper_f16_rescale_n256")).toList();
        for (String kernel : expected) {
            assertTrue(report.containsKey(kernel), "the sm_90a cubin has no kernel " + kernel + ": " + report.keySet());
        }
        report.forEach((kernel, line) -> assertTrue(line.contains(" 0 bytes spill stores, 0 bytes spill loads"), kernel + ": " + line));
        assertTrue(Kernels.has(CudaDevice.HOPPER_CUBIN), "the cubin itself is in the jar");
    }

    @Test
    void w4a16PtxHasEveryKernelTheLayerLaunches() {
        assumeTrue(Kernels.missing().isEmpty(), () -> "no kernels in this build: " + Kernels.missing().orElse(""));
        String ptx = Kernels.ptx(W4A16Gemm.PTX);
        for (String f : List.of("w4_repack", "w4a16_gemv", "w4_dequant", "f32_to_f16")) {
            assertTrue(ptx.contains(".entry " + f + "("), W4A16Gemm.PTX + " has no kernel " + f);
        }
        assertTrue(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"), "FP16 tensor-core MMA");
        assertTrue(ptx.contains("ldmatrix.sync.aligned.m8n8.x4.shared.b16"), "activations through ldmatrix");
    }

    /** The SASS, where the CUDA toolkit's cuobjdump is installed (the GPU machines have it; CI usually does not). */
    @Test
    void hopperSassRunsOnWarpgroupTensorCores(@TempDir Path dir) throws Exception {
        assumeTrue(Kernels.missing().isEmpty(), () -> "no kernels in this build: " + Kernels.missing().orElse(""));
        Path tool = Stream.of(System.getenv().getOrDefault("PATH", "").split(":")).map(d -> Path.of(d, "cuobjdump"))
                .filter(Files::isExecutable).findFirst().orElse(Path.of("/usr/local/cuda/bin/cuobjdump"));
        assumeTrue(Files.isExecutable(tool), "cuobjdump not installed here (it is not part of the nvcc this build uses): SASS not checked");
        Path cubin = dir.resolve(CudaDevice.HOPPER_CUBIN);
        Files.write(cubin, Kernels.bytes(CudaDevice.HOPPER_CUBIN));
        Process p = new ProcessBuilder(tool.toString(), "--dump-sass", cubin.toString()).redirectErrorStream(true).start();
        String sass = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), sass);
        Map<String, String> perKernel = new LinkedHashMap<>();
        String current = null;
        StringBuilder body = new StringBuilder();
        for (String line : sass.split("\n")) {
            if (line.contains("Function : ")) {
                if (current != null) {
                    perKernel.put(current, body.toString());
                }
                current = line.substring(line.indexOf("Function : ") + 11).trim();
                body.setLength(0);
            } else {
                body.append(line).append('\n');
            }
        }
        if (current != null) {
            perKernel.put(current, body.toString());
        }
        for (String kernel : HOPPER_KERNELS) {
            String code = perKernel.get(kernel);
            assertTrue(code != null, "no SASS for " + kernel);
            String mma = kernel.contains("_s8_") ? "IGMMA" : "QGMMA";
            assertTrue(code.contains(mma), kernel + " has no " + mma);
            assertTrue(!code.contains(" LDL") && !code.contains(" STL"), kernel + " uses local memory");
        }
        assertTrue(perKernel.get("hopper_f16_rescale_n256").contains("HGMMA"), "FP16 GEMM on HGMMA");
    }
}
