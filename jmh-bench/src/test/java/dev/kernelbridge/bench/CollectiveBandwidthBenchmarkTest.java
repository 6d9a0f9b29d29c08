package dev.kernelbridge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The collectives' memory-traffic bounds and figure names that the allreduce section reports. */
class CollectiveBandwidthBenchmarkTest {
    private static final double S = 16 << 20;

    @Test
    void allReduceKeepsItsBoundAndItsFigureNames() {
        // BW/(2N), as the all-reduce figures in the baselines were measured against.
        for (int n : new int[] {2, 4, 8}) {
            assertEquals(1.0 / (2 * n), S / CollectiveBandwidthBenchmark.trafficBytes("allReduce", n, S), 1e-15);
        }
        assertEquals("BW/(2N)", CollectiveBandwidthBenchmark.boundFormula("allReduce"));
        assertEquals("allreduce_r2_4kib", CollectiveBandwidthBenchmark.figureName("allReduce", 2, 4));
        assertEquals("allreduce_r4_64mib", CollectiveBandwidthBenchmark.figureName("allReduce", 4, 65536));
    }

    @Test
    void theOthersMoveNPlusOneVectors() {
        // reduce-scatter: N·S read, S written; all-gather: S read, N·S written; broadcast: S read, N·S written.
        for (int n : new int[] {2, 4}) {
            for (String kind : CollectiveBandwidthBenchmark.REPORTED_KINDS) {
                assertEquals((n + 1) * S, CollectiveBandwidthBenchmark.trafficBytes(kind, n, S), 1e-6, kind);
                assertEquals("BW/(N+1)", CollectiveBandwidthBenchmark.boundFormula(kind));
            }
        }
    }

    @Test
    void figureNamesFollowTheAllReducePattern() {
        assertEquals("reducescatter_r2_16mib", CollectiveBandwidthBenchmark.figureName("reduceScatter", 2, 16384));
        assertEquals("allgather_r4_64mib", CollectiveBandwidthBenchmark.figureName("allGather", 4, 65536));
        assertEquals("broadcast_r2_16mib", CollectiveBandwidthBenchmark.figureName("broadcast", 2, 16384));
        assertEquals("broadcast_r2_4kib", CollectiveBandwidthBenchmark.figureName("broadcast", 2, 4));
    }

    @Test
    void anUnknownKindIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> CollectiveBandwidthBenchmark.trafficBytes("allToAll", 2, S));
    }
}
