package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kernelbridge.cuda.NcclCollectives.Transfer;
import dev.kernelbridge.spi.DeviceCollectives.AllToAllLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The mapping of an all-to-all onto NCCL point-to-point calls, checked on the host (no GPU): every
 * non-empty block becomes one ncclSend on the sender and one matching ncclRecv on the receiver, in
 * bytes at the block's byte offset; empty blocks make no call.
 */
class NcclAllToAllPlanTest {
    @Test
    void everyNonEmptyBlockIsOneSendAndOneMatchingRecv() {
        // rank 0 sends 2 to itself and 3 to rank 1; rank 1 sends nothing to 0 and 1 to itself
        AllToAllLayout layout = new AllToAllLayout(
                new long[][] {{2, 3}, {0, 1}}, new long[][] {{5, 0}, {0, 7}},
                new long[][] {{2, 0}, {3, 1}}, new long[][] {{0, 9}, {1, 0}});
        List<List<Transfer>> plan = NcclCollectives.plan(layout, 4);
        assertEquals(List.of(new Transfer(true, 0, 20, 8), new Transfer(false, 0, 0, 8), new Transfer(true, 1, 0, 12)), plan.get(0));
        assertEquals(List.of(new Transfer(false, 0, 4, 12), new Transfer(true, 1, 28, 4), new Transfer(false, 1, 0, 4)), plan.get(1));
    }

    @Test
    void countsBeyondTwoToTheThirtyOneStayWhole() {
        long big = 3L << 31;
        AllToAllLayout layout = new AllToAllLayout(new long[][] {{0, big}, {0, 0}}, new long[][] {{0, 1}, {0, 0}},
                new long[][] {{0, 0}, {big, 0}}, new long[][] {{0, 0}, {2, 0}});
        List<List<Transfer>> plan = NcclCollectives.plan(layout, 2);
        assertEquals(List.of(new Transfer(true, 1, 2, 2 * big)), plan.get(0));
        assertEquals(List.of(new Transfer(false, 0, 4, 2 * big)), plan.get(1));
    }
}
