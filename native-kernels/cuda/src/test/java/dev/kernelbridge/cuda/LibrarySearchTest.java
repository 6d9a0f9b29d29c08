package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where cuBLAS, NVRTC and NCCL are looked for: the settings, the toolkit, Python's nvidia wheels, then the loader. */
class LibrarySearchTest {
    @Test
    void pythonWheelsAreFoundUnderEveryPrefix(@TempDir Path root) throws Exception {
        Path cu13 = Files.createDirectories(root.resolve("usr/lib/python3.11/site-packages/nvidia/cu13/lib"));
        Path nccl = Files.createDirectories(root.resolve("usr/lib/python3.11/site-packages/nvidia/nccl/lib"));
        Path venv = Files.createDirectories(root.resolve("venv/lib/python3.12/dist-packages/nvidia/cublas/lib"));
        Files.createDirectories(root.resolve("usr/lib/python3.11/site-packages/nvidia/no_lib_here"));
        assertEquals(List.of(cu13, nccl, venv), LibrarySearch.pythonNvidiaFolders(List.of(root.resolve("usr/lib"), root.resolve("venv/lib"))));

        Path configured = Files.createDirectories(root.resolve("opt/mine"));
        Path cudaHome = Files.createDirectories(root.resolve("cuda/lib64"));
        List<Path> folders = LibrarySearch.folders(configured + ":/does/not/exist", Map.of("CUDA_HOME", root.resolve("cuda").toString(),
                "VIRTUAL_ENV", root.resolve("venv").toString()), root.resolve("home"));
        assertEquals(configured, folders.get(0), "the setting comes first");
        assertEquals(cudaHome, folders.get(1), "then CUDA_HOME/lib64");
        assertEquals(venv, folders.getLast(), "then the wheels; folders that do not exist are dropped");
    }

    @Test
    void runtimeSonamesComeFirstInEveryFolderThenTheLoadersPath(@TempDir Path root) throws Exception {
        Path a = Files.createDirectories(root.resolve("a")), b = Files.createDirectories(root.resolve("b"));
        Files.createFile(b.resolve("libcublas.so.13"));
        Files.createFile(a.resolve("libcublas.so.12"));
        Files.createFile(a.resolve("libcublas.so"));
        assertEquals(List.of(b.resolve("libcublas.so.13").toString(), a.resolve("libcublas.so.12").toString(), a.resolve("libcublas.so").toString(),
                        "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"),
                LibrarySearch.candidates(Cublas.LIBRARIES, List.of(a, b)));
    }
}
