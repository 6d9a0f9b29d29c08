package dev.kernelbridge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The gate decides on ratios and noise only, per machine: the cases issues 5 and 20 name, and the edges. */
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
    void aPeerThatGotAThirdFasterIsNotOurRegressionAndNewFiguresAreListed() {
        List<Gate.Verdict> v = gate.compare(List.of(figure("a", 300, 1, 300, 1)),
                List.of(figure("a", 300, 1, 400, 1), figure("b", 1, 0, 1, 0)));
        assertEquals(Gate.Status.PEER_CHANGED, v.get(0).status(), "ours did not move; the yardstick did");
        assertEquals(Gate.Status.NEW, v.get(1).status());
    }

    @Test
    void aPeerWhoseOwnSpeedChangedIsReportedNotGated() {
        // Ours unchanged, BLIS 5x faster (another build): the ratio collapses, but the yardstick moved, not us.
        List<Gate.Verdict> v = gate.compare(List.of(figure("gemm_f32_n512_vs_blis", 300, 5, 40, 2)),
                List.of(figure("gemm_f32_n512_vs_blis", 300, 5, 200, 5)));
        assertEquals(Gate.Status.PEER_CHANGED, v.getFirst().status());
        assertTrue(Gate.passes(v));
        assertTrue(Gate.table(v).contains("peer's own speed changed: not gated"), Gate.table(v));
        // A peer that moved within its noise is still a yardstick: our 20 % drop regresses.
        List<Gate.Verdict> w = gate.compare(List.of(figure("x", 300, 3, 330, 30)), List.of(figure("x", 240, 3, 340, 30)));
        assertEquals(Gate.Status.REGRESSED, w.getFirst().status());
    }

    @Test
    void aMachineWithoutABaselineIsNotGatedAndItsRunBecomesItsBaseline(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.util.Map<String, String> epyc = new java.util.LinkedHashMap<>(java.util.Map.of("cpu", "AMD EPYC", "cores", "2", "blis", "0.9.0",
                "revision", "abc", "jdk", "25"));
        Results first = new Results("t1", epyc, List.of(figure("gemm_f32_n512", 300, 3, 330, 3)));
        Baselines.Outcome o = Baselines.gate(dir, first, "quick", false);
        assertTrue(o.pass());
        assertTrue(o.markdown().contains("New machine: not gated (AMD EPYC, 2 cores"), o.markdown());
        assertTrue(java.nio.file.Files.exists(o.recorded()));

        java.util.Map<String, String> sameMachineNewRevision = new java.util.LinkedHashMap<>(epyc);
        sameMachineNewRevision.put("revision", "def");
        sameMachineNewRevision.put("jdk", "26");
        Results slower = new Results("t2", sameMachineNewRevision, List.of(figure("gemm_f32_n512", 240, 3, 330, 3)));
        Baselines.Outcome gated = Baselines.gate(dir, slower, "quick", false);
        assertFalse(gated.pass(), "the same machine at another revision is gated: " + gated.markdown());
        assertEquals(null, gated.recorded());

        java.util.Map<String, String> intel = new java.util.LinkedHashMap<>(epyc);
        intel.put("cpu", "Intel(R) Xeon(R) Processor");
        Baselines.Outcome other = Baselines.gate(dir, new Results("t3", intel, slower.figures()), "quick", false);
        assertTrue(other.pass() && other.markdown().contains("New machine: not gated"), other.markdown());
        assertTrue(Baselines.key(intel).startsWith("intel-r-xeon-r-processor-"), Baselines.key(intel));
        assertEquals(Baselines.key(epyc), Baselines.key(sameMachineNewRevision), "revision and JDK do not name the machine");
    }
}
