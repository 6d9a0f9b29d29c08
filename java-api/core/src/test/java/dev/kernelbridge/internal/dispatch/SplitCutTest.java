package dev.kernelbridge.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How a split GEMM is cut: in proportion to the weights, yet no device that was given a weight ends
 * with nothing when there is a unit for each — a slow measurement on a busy machine, first in line,
 * once rounded a device's batch share to zero, and an always-split GEMM then ran whole on one device.
 */
class SplitCutTest {
    private static final Telemetry TELEMETRY = new Telemetry();

    private static Node node(String id) {
        return new Node(id, null, false, false, new Health(id, TELEMETRY, 2, Duration.ofSeconds(5)));
    }

    private static HostGemm batched(long m, long n, long batch) {
        MemorySegment none = MemorySegment.ofArray(new float[1]);
        return new HostGemm(DType.F32, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, 8, 1, none, 0, m, m * 8,
                none, 0, 8, 8 * n, 0, none, 0, m, m * n, batch);
    }

    @Test
    void aSlowDeviceFirstInLineStillGetsABatchItem() {
        List<Node> nodes = List.of(node("slow:0"), node("fast:0"), node("slow:1"));
        List<Placement.Part> parts = Placement.cut(batched(16, 16, 6), nodes, new double[] {5, 100, 5});
        assertEquals(3, parts.size(), "every device keeps a piece: " + parts);
        long items = 0;
        for (Placement.Part p : parts) {
            assertTrue(p.gemm().batchCount() >= 1, p.toString());
            items += p.gemm().batchCount();
        }
        assertEquals(6, items, "the pieces cover the batch exactly once");
        assertEquals(4, parts.get(1).gemm().batchCount(), "the fast device keeps the rest");
    }

    @Test
    void columnsFollowTheWeightsInAlignedPieces() {
        List<Node> nodes = List.of(node("a:0"), node("b:0"));
        List<Placement.Part> parts = Placement.cut(batched(64, 1024, 1), nodes, new double[] {1, 3});
        assertEquals(256, parts.get(0).gemm().n());
        assertEquals(768, parts.get(1).gemm().n());
    }

    @Test
    void fewerUnitsThanDevicesLeaveTheSlowestOut() {
        List<Node> nodes = List.of(node("a:0"), node("b:0"), node("c:0"));
        List<Placement.Part> parts = Placement.cut(batched(2, 2, 1), nodes, new double[] {1, 1, 100});
        long columns = parts.stream().mapToLong(p -> p.gemm().n()).sum();
        assertEquals(2, columns, "the pieces cover C exactly once: " + parts);
    }
}
