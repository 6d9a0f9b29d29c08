package dev.kernelbridge.cuda;

import dev.kernelbridge.Config;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where the CUDA libraries beside the driver (cuBLAS, NVRTC, NCCL) are looked for, and in which order.
 * GPU hosts keep them in many places: the toolkit's lib64, and, on machines set up with Python, the
 * {@code nvidia-*} wheels ({@code site-packages/nvidia/cu13/lib}, {@code nvidia/nccl/lib}), which the
 * system's loader does not search. Folders, in order: {@code kernelbridge.cuda.lib.path}, then
 * {@code $CUDA_HOME/lib64}, {@code /usr/local/cuda/lib64}, then every Python {@code site-packages}
 * (or {@code dist-packages}) {@code nvidia/*}{@code /lib} under the usual prefixes (system, /usr/local,
 * ~/.local, $VIRTUAL_ENV, $CONDA_PREFIX); and last the bare names, for the system's loader path. For
 * each name (runtime sonames first, newest first) every folder is tried before the next name.
 */
final class LibrarySearch {
    static final Config.Knob PATH = new Config.Knob("cuda.lib.path", "",
            "Folders (':'-separated) searched first for cuBLAS, NVRTC and NCCL, before CUDA_HOME/lib64, /usr/local/cuda/lib64,"
                    + " Python site-packages/nvidia/*/lib and the system's loader path.");

    private LibrarySearch() { }

    /** The folders to search on this machine, for {@code config} and the process environment. */
    static List<Path> folders(Config config) {
        return folders(config.get(PATH), System.getenv(), Path.of(System.getProperty("user.home", "/root")));
    }

    static List<Path> folders(String configured, Map<String, String> env, Path home) {
        Set<Path> out = new LinkedHashSet<>();
        for (String f : configured.split(":")) {
            if (!f.isBlank()) {
                out.add(Path.of(f.trim()));
            }
        }
        if (env.get("CUDA_HOME") != null) {
            out.add(Path.of(env.get("CUDA_HOME"), "lib64"));
        }
        out.add(Path.of("/usr/local/cuda/lib64"));
        List<Path> prefixes = new ArrayList<>(List.of(Path.of("/usr/lib"), Path.of("/usr/local/lib"), home.resolve(".local/lib")));
        for (String v : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            if (env.get(v) != null) {
                prefixes.add(Path.of(env.get(v), "lib"));
            }
        }
        out.addAll(pythonNvidiaFolders(prefixes));
        return out.stream().filter(Files::isDirectory).toList();
    }

    /** Every {@code <prefix>/python3*}{@code /(site|dist)-packages/nvidia/*}{@code /lib} that exists. */
    static List<Path> pythonNvidiaFolders(List<Path> prefixes) {
        List<Path> out = new ArrayList<>();
        for (Path prefix : prefixes) {
            for (Path python : list(prefix, "python3*")) {
                for (String packages : new String[] {"site-packages", "dist-packages"}) {
                    for (Path pkg : list(python.resolve(packages).resolve("nvidia"), "*")) {
                        if (Files.isDirectory(pkg.resolve("lib"))) {
                            out.add(pkg.resolve("lib"));
                        }
                    }
                }
            }
        }
        return out;
    }

    /** What to hand the loader, in order: each name in each folder where it exists, then the bare name. */
    static List<String> candidates(List<String> names, List<Path> folders) {
        List<String> out = new ArrayList<>();
        for (String name : names) {
            for (Path folder : folders) {
                if (Files.exists(folder.resolve(name))) {
                    out.add(folder.resolve(name).toString());
                }
            }
        }
        out.addAll(names);
        return out;
    }

    private static List<Path> list(Path dir, String glob) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
            s.forEach(out::add);
        } catch (IOException e) {
            return List.of();
        }
        out.sort(null);
        return out;
    }
}
