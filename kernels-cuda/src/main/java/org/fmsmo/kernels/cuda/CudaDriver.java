package org.fmsmo.kernels.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fmsmo.api.deploy.Availability;

/**
 * Finds the CUDA driver library ({@code libcuda.so.1}) without loading it, so a GPU backend can
 * say why it is unavailable on a machine without a GPU instead of failing at link time. The GPU
 * backends (issue: deploy backends) build on this.
 */
public final class CudaDriver {

    /** The driver's file name on Linux. */
    public static final String LIBRARY = "libcuda.so.1";

    private static final List<String> SYSTEM_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/usr/local/cuda/lib64", "/usr/local/cuda/compat", "/usr/lib/wsl/lib");

    private CudaDriver() {
    }

    /** Where the driver would be looked for: {@code LD_LIBRARY_PATH}, then the usual system folders. */
    static List<Path> searchPath(String ldLibraryPath) {
        List<Path> dirs = new ArrayList<>();
        if (ldLibraryPath != null) {
            for (String d : ldLibraryPath.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        SYSTEM_DIRS.forEach(d -> dirs.add(Path.of(d)));
        return dirs;
    }

    /** The driver library's path, if present on this machine. */
    public static java.util.Optional<Path> find() {
        return find(searchPath(System.getenv("LD_LIBRARY_PATH")));
    }

    static java.util.Optional<Path> find(List<Path> dirs) {
        return dirs.stream().map(d -> d.resolve(LIBRARY)).filter(Files::isRegularFile).findFirst();
    }

    /** Whether a CUDA backend could start here, and if not, why; never throws, loads nothing. */
    public static Availability availability() {
        List<Path> dirs = searchPath(System.getenv("LD_LIBRARY_PATH"));
        return find(dirs).map(p -> Availability.yes())
                .orElseGet(() -> Availability.no("no CUDA driver: " + LIBRARY + " not found in " + dirs));
    }
}
