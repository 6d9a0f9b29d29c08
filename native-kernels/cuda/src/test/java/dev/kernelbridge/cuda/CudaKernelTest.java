package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.tuning.GemmVariant;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared kernel sources as CUDA, without a GPU: the PTX in the jar (built by build-ptx) passes
 * ptxas for every target architecture and exports the kernels the launcher names — gemm.cl for every
 * type pair {@link GemmVariant#ALL} lists (BF16, F16 and I8 included), the grouped kernels among them,
 * reduce.cl for F32 and F64; the variants build-ptx does not ship (local-memory staging) also compile
 * warning-free, grouped kernels included, for every pair.
 */
class CudaKernelTest {
    private static final List<String> FAMILIES = List.of("gemm", "reduce");

    /** The builds build-ptx ships per family: gemm's named as GemmVariant names them. */
    private static List<String> labels(String family) {
        return family.equals("gemm") ? GemmVariant.ALL.stream().map(GemmVariant::label).toList() : List.of("f32", "f64");
    }
    /** As build-ptx: sm_70 where nvcc still knows Volta, else sm_75 (CUDA 13 dropped Volta). */
    private static List<String> archs() throws IOException {
        Path probe = Path.of(System.getProperty("user.dir"), "target", "generated-resources", "ptx", "dev", "kernelbridge", "cuda", "ptx", "gemm-f32-sm_70.ptx");
        return Files.exists(probe) ? List.of("70", "80", "90") : List.of("75", "80", "90");
    }

    @TempDir
    Path dir;

    private static boolean toolkit() {
        boolean present = Files.isExecutable(CudaToolkit.tool("ptxas")) && Files.isExecutable(CudaToolkit.tool("nvcc"));
        if (CudaToolkit.required()) {
            assertTrue(present, "ci/test expects nvcc and ptxas (CUDA toolkit at " + CudaToolkit.home() + ")");
        }
        return present;
    }

    @Test
    void everyShippedPtxPassesPtxasForItsArchitecture() throws Exception {
        assumeTrue(toolkit(), "no CUDA toolkit: the jar carries no PTX to check");
        int checked = 0, expected = 0;
        for (String family : FAMILIES) {
            expected += labels(family).size() * 3;
            for (String label : labels(family)) {
                for (String arch : archs()) {
                    String name = family + "-" + label + "-sm_" + arch + ".ptx";
                    String ptx = resource(name);
                    for (String entry : entries(family)) {
                        assertTrue(ptx.contains(".entry " + entry + "("), name + " exports " + entry);
                    }
                    Path file = dir.resolve(name);
                    Files.writeString(file, ptx);
                    run(CudaToolkit.tool("ptxas").toString(), "-arch=sm_" + arch, "-o", dir.resolve(name + ".cubin").toString(), file.toString());
                    checked++;
                }
            }
        }
        assertEquals(expected, checked);
    }

    @Test
    void theLocalMemoryGemmVariantCompilesAsCudaWithoutWarningsForEveryTypePair() throws Exception {
        assumeTrue(toolkit(), "no CUDA toolkit");
        Path kernels = Path.of(System.getProperty("user.dir")).resolve("../kernels").normalize();
        for (GemmVariant v : GemmVariant.ALL) {
            Path out = dir.resolve("gemm-la-" + v.label() + ".ptx");
            List<String> cmd = new ArrayList<>(List.of(CudaToolkit.tool("nvcc").toString(), "-x", "cu", "-include",
                    kernels.resolve("kernelbridge_compat.h").toString()));
            v.defines().forEach((k, x) -> cmd.add("-D" + k + "=" + x));
            cmd.addAll(List.of("-DKB_VW=1", "-DKB_LA=1", "-DKB_WG=64", "-DKB_MV=4", "-DKB_NR=4", "--ptx", "-arch=compute_80",
                    "-Werror", "all-warnings", "-o", out.toString(), kernels.resolve("gemm.cl").toString()));
            run(cmd.toArray(String[]::new));
            String ptx = Files.readString(out);
            for (String entry : entries("gemm")) {
                assertTrue(ptx.contains(".entry " + entry + "("), "KB_LA=1 " + v.label() + " exports " + entry);
            }
            run(CudaToolkit.tool("ptxas").toString(), "-arch=sm_80", "-o", dir.resolve("la.cubin").toString(), out.toString());
        }
    }

    @Test
    void theNarrowAndIntegerReduceVariantsCompileAsCudaWithoutWarnings() throws Exception {
        assumeTrue(toolkit(), "no CUDA toolkit");
        Path kernels = Path.of(System.getProperty("user.dir")).resolve("../kernels").normalize();
        for (String storage : List.of("1", "2", "3")) { // reduce.cl's KB_STORAGE: BF16, F16, I32
            Path out = dir.resolve("reduce-" + storage + ".ptx");
            run(CudaToolkit.tool("nvcc").toString(), "-x", "cu", "-include", kernels.resolve("kernelbridge_compat.h").toString(),
                    "-DKB_DOUBLE=0", "-DKB_STORAGE=" + storage, "--ptx", "-arch=compute_80", "-Werror", "all-warnings",
                    "-o", out.toString(), kernels.resolve("reduce.cl").toString());
            String ptx = Files.readString(out);
            for (String entry : storage.equals("3") ? List.of("reduce_first", "reduce_next") : List.of("reduce_first", "reduce_next", "reduce_round")) {
                assertTrue(ptx.contains(".entry " + entry + "("), "KB_STORAGE=" + storage + " exports " + entry);
            }
            run(CudaToolkit.tool("ptxas").toString(), "-arch=sm_80", "-o", dir.resolve("reduce-" + storage + ".cubin").toString(), out.toString());
        }
    }

    @Test
    void theF16BuildsUseTheRoundToNearestEvenConversionAndTheI8BuildIntegerArithmetic() throws Exception {
        assumeTrue(toolkit(), "no CUDA toolkit: the jar carries no PTX to check");
        // vstore_half_rte's CUDA equivalent: cvt.rn (nearest even), never a truncating or flushing form.
        String f16 = resource("gemm-f16-sm_80.ptx");
        assertTrue(f16.contains("cvt.rn.f16.f32") && f16.contains("cvt.f32.f16"), "F16 stores round to nearest even");
        assertTrue(!f16.contains("cvt.rz.f16.f32") && !f16.contains(".ftz.f16"), "no truncation or flush in the F16 store");
        String i8 = resource("gemm-i8-sm_80.ptx");
        assertTrue(i8.contains("mad.lo.s32") || i8.contains("mad.lo.u32") || i8.contains("mul.lo"), "I8 sums in 32-bit integers");
        assertTrue(!i8.contains("fma.rn.f32"), "no floating-point arithmetic in the I8 build");
    }

    @Test
    void withoutADriverTheBackendIsUnavailableWithItsCause() {
        var probe = new CudaBackendProvider().probe();
        assertTrue(!probe.available(), "this build opens no CUDA device: " + probe.cause());
        if (CudaDriver.load(CudaDriver.DEFAULT_LIBRARY).isEmpty()) {
            assertTrue(probe.cause().startsWith("libcuda.so.1 not found") && probe.cause().contains("NVIDIA driver"), probe.cause());
        }
    }

    private static List<String> entries(String family) {
        return family.equals("gemm") ? List.of("pack_panels", "gemm_packed", "scale_c", "pack_grouped_box", "pack_grouped_rows", "gemm_grouped")
                : List.of("reduce_first", "reduce_next", "reduce_divide");
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = CudaKernelTest.class.getResourceAsStream("/dev/kernelbridge/cuda/ptx/" + name)) {
            assertTrue(in != null, name + " is missing from the jar (build-ptx runs at generate-resources)");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        List<String> warnings = new ArrayList<>();
        for (String line : out.split("\n")) {
            if (line.toLowerCase().contains("warning")) {
                warnings.add(line);
            }
        }
        assertTrue(warnings.isEmpty(), String.join(" ", cmd) + " warned:\n" + String.join("\n", warnings));
    }
}
