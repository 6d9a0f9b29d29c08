package dev.kernelbridge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The issue-14 targets read the figures the dtypes section writes: names, thresholds, missing peers. */
class DTypeReportTest {
    private static Figure figure(String name, double ours, double peer) {
        return new Figure(name, ours, 1, peer, 1, "KernelBridge F32", "GFLOP/s");
    }

    @Test
    void aTargetCountsTheSizesThatMeetIt() {
        String t = DTypeReport.targets(List.of(figure("dtypes_gemm_bf16_n512_vs_f32", 95, 100), figure("dtypes_gemm_bf16_n2048_vs_f32", 80, 100),
                figure("dtypes_gemm_bf16_n512_vs_onednn", 10, 100)));
        assertTrue(t.contains("| BF16 GEMM FLOP rate / our F32 GEMM's | ≥ 0.90 | 0.80 – 0.95 | 1 of 2 |"), t);
    }

    @Test
    void aTargetWithoutFiguresSaysSo() {
        // oneDNN absent: its figures carry a NaN peer, so the I8-vs-oneDNN target has nothing to judge.
        String t = DTypeReport.targets(List.of(new Figure("dtypes_gemm_i8_n512_vs_onednn", 50, 1, Double.NaN, Double.NaN, "oneDNN", "GOP/s")));
        assertTrue(t.contains("| I8 GEMM / oneDNN s8s8s32 | ≥ 0.50 | no figure | — |"), t);
    }

    @Test
    void theQuickSetIsTheKitsQuickSquaresFrom512() {
        assertEquals(List.of("512", "2048"), DTypeReport.sizes(true));
        assertEquals(List.of("512", "1024", "2048", "4096"), DTypeReport.sizes(false));
    }
}
