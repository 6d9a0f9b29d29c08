package dev.kernelbridge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The MoE figures reach the gate: the MPI all-to-all-v report is gated against this machine's
 * baseline (a first run records it, a run whose ratio fell beyond the runs' spread fails), and the
 * issue-15 targets read the names the MoE section gives its figures.
 */
class MoeGateTest {
    @TempDir
    Path dir;

    /** Five runs per side of one case (2 ranks, 1 MiB per peer), time per call {@code us} ± 1 %. */
    private Path runs(String name, double us) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (double d : new double[] {-0.01, -0.005, 0, 0.005, 0.01}) {
            lines.append(String.format(Locale.ROOT, "{\"ranks\": 2, \"bytes\": 1048576, \"us\": %.3f}%n", us * (1 + d)));
        }
        return Files.writeString(dir.resolve(name + ".jsonl"), lines);
    }

    private boolean report(String out, double peerUs, double oursUs) throws IOException {
        return MpiReport.report(new String[] {dir.resolve(out).toString(), "--op", "alltoallv", "--baselines", dir.resolve("baselines").toString(),
                "--mode", "full-moe-mpi", runs(out + "-peer", peerUs).toString(), "--", runs(out + "-ours", oursUs).toString()});
    }

    @Test
    void theMpiAllToAllIsGatedAgainstThisMachinesBaseline() throws IOException {
        assertTrue(report("first", 200, 210), "a machine without a baseline is not gated");
        try (var files = Files.list(dir.resolve("baselines"))) {
            assertEquals(1, files.filter(p -> p.toString().endsWith("-full-moe-mpi.json")).count());
        }
        assertTrue(report("same", 200, 212), "within the runs' spread");
        assertFalse(report("slower", 200, 300), "ours 40 % slower against the same C peer");
        String md = Files.readString(dir.resolve("slower/report.md"));
        assertTrue(md.contains("mpi_alltoallv_r2_1048576b") && md.contains("regressed"), md);
        assertTrue(md.contains("| MPI all-to-all-v rate / C MPI_Alltoallv's (within 10 %) | ≥ 0.91 | 0.67 – 0.67 | 0 of 1 |"), md);
    }

    @Test
    void theIssue15TargetsReadTheMoeFigures() {
        List<Figure> figures = List.of(
                new Figure("moe_grouped_vs_openblas_loop", 260, 5, 200, 5, "OpenBLAS sgemm loop", "GFLOP/s"),
                new Figure("moe_grouped_vs_single", 260, 5, 270, 5, "KernelBridge single GEMM", "GFLOP/s"),
                new Figure("moe_alltoallv_r2_t4096_vs_copy", 8, 1, 10, 1, "memcpy", "GB/s"),
                new Figure("moe_alltoallv_r4_t4096_vs_copy", 7, 1, 10, 1, "memcpy", "GB/s"));
        String t = DTypeReport.targets("Targets (issue 15)", MoeReport.TARGETS, figures);
        assertTrue(t.contains("| grouped up-projection / loop of OpenBLAS sgemm | ≥ 1.30 | 1.30 – 1.30 | 1 of 1 |"), t);
        assertTrue(t.contains("| grouped up-projection / our single GEMM of the same FLOPs | ≥ 0.90 | 0.96 – 0.96 | 1 of 1 |"), t);
        assertTrue(t.contains("| in-process all-to-all-v / copy of the same bytes | ≥ 0.80 | 0.70 – 0.80 | 1 of 2 |"), t);
    }
}
