package dev.kernelbridge.cuda;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the CUDA toolkit is (CUDA_HOME, else /usr/local/cuda), and whether ci/test requires it. */
final class CudaToolkit {
    private CudaToolkit() { }

    static Path home() {
        String env = System.getenv("CUDA_HOME");
        return Path.of(env != null && !env.isBlank() ? env : "/usr/local/cuda");
    }

    static Path header(String name) {
        return home().resolve("include").resolve(name);
    }

    /** nvcc or ptxas: on PATH, else in the toolkit's bin. */
    static Path tool(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return home().resolve("bin").resolve(name);
    }

    /** ci/test sets kernelbridge.test.requireCudaToolkit where the toolkit is installed: then nothing may skip. */
    static boolean required() {
        return Boolean.getBoolean("kernelbridge.test.requireCudaToolkit");
    }
}
