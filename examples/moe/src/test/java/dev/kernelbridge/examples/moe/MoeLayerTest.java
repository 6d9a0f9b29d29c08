package dev.kernelbridge.examples.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.KernelBridge;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The layer's own rules on one CPU rank: top-k routing and its ties, repeatable passes, and a reference check that catches wrong outputs. */
class MoeLayerTest {
    @Test
    void topKTakesTheLargestLogitsAndTiesGoToTheLowerExpert() {
        int experts = 4;
        // Logits that cancel the skew exactly: every expert ties, so top-2 must be experts 0 and 1, weighted equally.
        double[] level = new double[experts];
        for (int e = 0; e < experts; e++) {
            level[e] = MoeLayer.Routing.SKEW * e / experts;
        }
        // Token 1: expert 2 clearly first, experts 1 and 3 tie for second.
        double[] token1 = level.clone();
        token1[2] += 3;
        token1[1] += 1;
        token1[3] += 1;
        double[] logits = concat(level, token1);
        MoeLayer.Routing r = MoeLayer.Routing.of(logits, 2, experts, 2);
        assertArrayEquals(new int[] {0, 1, 2, 1}, r.expert());
        assertEquals(0.5, r.weight()[0], 0);
        assertEquals(0.5, r.weight()[1], 0);
        assertEquals(1 / (1 + Math.exp(-2)), r.weight()[2], 1e-15);
        assertEquals(1.0, r.weight()[2] + r.weight()[3], 1e-15);
        assertArrayEquals(new long[] {1, 2, 1, 0}, r.tokensPerExpert());
        // Dispatch order: by expert, then token — slots (token 0, 0), (0, 1), (1, 1), (1, 0).
        assertArrayEquals(new int[] {0, 1, 3, 2}, r.dispatchOrder());
    }

    @Tag("R13")
    @Test
    void theCheckPassesTheLayerAndCatchesAMisroutedOrPerturbedOutputInEveryType() {
        for (DType type : List.of(DType.F32, DType.F64, DType.BF16, DType.F16)) {
            var shape = new MoeLayer.Shape(4, 2, 24, 32, 48, type, 7);
            try (KernelBridge bridge = KernelBridge.open()) {
                List<Communicator> one = bridge.communicators(1);
                try (MoeLayer layer = new MoeLayer(bridge, one.getFirst(), shape)) {
                    double[] y = layer.forward().y();
                    assertArrayEquals(y, layer.forward().y(), type + ": a second pass must give the same bits");
                    MoeReference.Check ok = MoeReference.check(shape, 0, 24, y);
                    assertTrue(ok.passed(), type + ": worst error / bound " + ok.worstErrorOverBound());

                    double[] swapped = y.clone(); // tokens 3 and 4 given each other's rows, as a combine to the wrong slot would
                    System.arraycopy(y, 3 * 32, swapped, 4 * 32, 32);
                    System.arraycopy(y, 4 * 32, swapped, 3 * 32, 32);
                    assertFalse(MoeReference.check(shape, 0, 24, swapped).passed(), type + ": swapped rows must fail");

                    double[] nan = y.clone();
                    nan[0] = Double.NaN;
                    assertFalse(MoeReference.check(shape, 0, 24, nan).passed(), type + ": NaN must fail");
                    if (type == DType.F32) {
                        double largest = Arrays.stream(y).map(Math::abs).max().orElseThrow();
                        double[] nudged = y.clone(); // one element off by 0.1% of the largest: far outside F32's bound
                        nudged[5 * 32 + 7] += 1e-3 * largest;
                        assertFalse(MoeReference.check(shape, 0, 24, nudged).passed());
                    }
                } finally {
                    one.forEach(Communicator::close);
                }
            }
        }
    }

    private static double[] concat(double[] a, double[] b) {
        double[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
