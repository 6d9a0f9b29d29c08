package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The vendor-collectives switch: validated, and without an engine the group keeps its rank-order reductions. */
class CollectiveVendorTest {
    @Test
    void aBadValueNamesTheProperty() {
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(Config.COLLECTIVE_VENDOR, "sometimes"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bridge.communicators(2));
            assertTrue(e.getMessage().contains("kernelbridge.collective.vendor"), e.getMessage());
        }
    }

    @Test
    void allowedButWithoutAnEngineTheResultIsTheRankOrderOne() {
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(Config.COLLECTIVE_VENDOR, "allow"))) {
            Device cpu = bridge.device("cpu:0");
            List<Communicator> ranks = bridge.communicators(List.of(cpu, cpu, cpu));
            List<DeviceBuffer> bufs = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                bufs.add(bridge.allocate(cpu, DType.F64, 4).copyFrom(new double[] {0.1 * r, 1e16, -1e16 + r, 0.3}));
            }
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                calls.add(ranks.get(r).allReduceAsync(bufs.get(r), bufs.get(r), 4, ReduceOp.SUM, Duration.ofSeconds(30)));
            }
            calls.forEach(CompletableFuture::join);
            double[] want = {(0.0 + 0.1) + 0.2, (1e16 + 1e16) + 1e16, ((-1e16) + (-1e16 + 1)) + (-1e16 + 2), (0.3 + 0.3) + 0.3};
            for (DeviceBuffer b : bufs) {
                assertArrayEquals(want, b.copyTo(new double[4]));
            }
        }
    }
}
