package org.fmsmo.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.fmsmo.api.deploy.Availability;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaDriverTest {

    @Test
    void searchesLdLibraryPathFirst(@TempDir Path dir) throws Exception {
        List<Path> path = CudaDriver.searchPath(dir + ":/nonexistent");
        assertEquals(dir, path.getFirst());
        assertTrue(CudaDriver.find(List.of(dir)).isEmpty());
        Files.writeString(dir.resolve(CudaDriver.LIBRARY), "");
        assertEquals(dir.resolve(CudaDriver.LIBRARY), CudaDriver.find(List.of(dir)).orElseThrow());
    }

    @Test
    void availabilityNamesWhatIsMissing() {
        Availability a = CudaDriver.availability();
        System.out.println("CUDA driver on this machine: " + (a.available() ? "present" : a.reason()));
        assertEquals(CudaDriver.find().isPresent(), a.available());
        if (!a.available()) {
            assertTrue(a.reason().startsWith("no CUDA driver: libcuda.so.1 not found in"), a.reason());
        }
    }
}
