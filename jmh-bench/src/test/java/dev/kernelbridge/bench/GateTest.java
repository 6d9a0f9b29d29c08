package dev.kernelbridge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The gate decides on ratios and noise only: the three cases issue 5 names, and the edges. */
class GateTest {
    private final Gate gate = new Gate(0.03);

    private static Figure figure(String name, double ours, double oursError, double peer, double peerError) {
        return new Figure(name, ours, oursError, peer, peerError, "OpenBLAS", "GFLOP/s");
    }

    @Test
    void aRegressionBeyondNoiseFails() {
        List<Gate.Verdict> v = gate.compare(List.of(figure("gemm_f32_n512", 300, 3, 330, 3)), List.of(figure("gemm_f32_n512", 240, 3, 330, 3)));
        assertEquals(Gate.Status.REGRESSED, v.getFirst().status());
        assertFalse(Gate.passes(v));
        assertTrue(Gate.table(v).contains("regressed"), Gate.table(v));
    }

    @Test
    void aChangeWithinNoisePasses() {
        // 5 % slower, but each run's error is 10 %: inside the noise.
        List<Gate.Verdict> v = gate.compare(List.of(figure("gemm_f32_n512", 300, 30, 330, 30)), List.of(figure("gemm_f32_n512", 285, 30, 330, 30)));
        assertEquals(Gate.Status.OK, v.getFirst().status());
        assertTrue(Gate.passes(v));
    }

    @Test
    void aTinyChangeBeyondANarrowNoiseStillPasses() {
        // 1 % slower with almost no noise: below the 3 % minimum effect.
        List<Gate.Verdict> v = gate.compare(List.of(figure("x", 300, 0.1, 330, 0.1)), List.of(figure("x", 297, 0.1, 330, 0.1)));
        assertEquals(Gate.Status.OK, v.getFirst().status());
    }

    @Test
    void aMissingPeerIsReportedNotARegression() {
        List<Gate.Verdict> v = gate.compare(List.of(figure("gemm_f64_n1024", 150, 2, 160, 2)),
                List.of(figure("gemm_f64_n1024", 150, 2, Double.NaN, Double.NaN)));
        assertEquals(Gate.Status.PEER_UNAVAILABLE, v.getFirst().status());
        assertTrue(Gate.passes(v));
        assertTrue(Gate.table(v).contains("peer unavailable"), Gate.table(v));
    }

    @Test
    void aFasterPeerIsARegressionOfTheRatioAndNewFiguresAreListed() {
        List<Gate.Verdict> v = gate.compare(List.of(figure("a", 300, 1, 300, 1)),
                List.of(figure("a", 300, 1, 400, 1), figure("b", 1, 0, 1, 0)));
        assertEquals(Gate.Status.REGRESSED, v.get(0).status());
        assertEquals(Gate.Status.NEW, v.get(1).status());
    }
}
