package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.Layout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Resources and faults (R23, R24, R25): the memory ledger returns to baseline over many
 * allocate/free cycles, and running out of device memory is a typed, non-sticky
 * {@link DeviceOutOfMemoryException} naming the device — the classification a scheduler needs.
 */
public interface ResourceConformance extends KitContext {
    @Tag("R23")
    @Tag("lifetime")
    @Test
    default void allocateFreeCyclesReturnTheLedgerToBaseline() {
        long baseline = bridge().allocatedBytes();
        DType dtype = firstDtype();
        for (int i = 0; i < 5_000; i++) {
            long length = 1 + (i * 7919L) % 100_000;
            try (DeviceBuffer b = bridge().allocate(device(), dtype, length)) {
                assertEquals(baseline + length * dtype.byteSize(), bridge().allocatedBytes());
                if (i % 500 == 0) {
                    b.copyFrom(0, java.lang.foreign.MemorySegment.ofArray(new byte[dtype.byteSize()]));
                }
            }
        }
        assertEquals(baseline, bridge().allocatedBytes(), "ledger after 5000 allocate/free cycles");
    }

    /** R38: 200 groups created, used and closed leave no threads behind (bounded wait, no timing claim). */
    @Tag("R38")
    @Tag("lifetime")
    @Test
    default void communicatorChurnLeavesNoThreadsBehind() throws InterruptedException {
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        int baseline = threads.getThreadCount();
        DType dtype = firstDtype();
        for (int i = 0; i < 200; i++) {
            java.util.List<dev.kernelbridge.Communicator> comms = bridge().communicators(java.util.List.of(device(), device()));
            try (DeviceBuffer b0 = bridge().allocate(device(), dtype, 16); DeviceBuffer b1 = bridge().allocate(device(), dtype, 16)) {
                java.util.List<DeviceBuffer> bufs = java.util.List.of(b0, b1);
                CollectiveConformance.onAllRanks(comms, c -> c.allReduceAsync(bufs.get(c.rank()), bufs.get(c.rank()), 16,
                        dev.kernelbridge.ReduceOp.SUM, java.time.Duration.ofSeconds(30)));
            } finally {
                comms.forEach(dev.kernelbridge.Communicator::close);
            }
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (threads.getThreadCount() > baseline + 4 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(threads.getThreadCount() <= baseline + 4,
                "threads: " + threads.getThreadCount() + " after 200 communicator groups, " + baseline + " before");
    }

    @Tag("R25")
    @Tag("faults")
    @Test
    default void outOfMemoryIsTypedNamesTheDeviceAndIsNotSticky() {
        DType dtype = firstDtype();
        long memory = device().memoryBytes();
        assumeTrue(memory > 0, "the device does not report its memory size");
        assumeTrue(!overcommitAlways(), "vm.overcommit_memory = 1: host allocations never fail here");
        long tooMany = memory * 4 / dtype.byteSize();
        long before = bridge().allocatedBytes();
        DeviceException e = assertThrows(DeviceException.class, () -> bridge().allocate(device(), dtype, tooMany));
        assertInstanceOf(DeviceOutOfMemoryException.class, e);
        assertEquals(device().id(), e.deviceId(), "the exception names the device");
        assertEquals(before, bridge().allocatedBytes(), "a failed allocation leaves the ledger unchanged");
        // Not sticky: the device still allocates and computes.
        try (DeviceBuffer a = bridge().allocate(device(), dtype, 16).copyFrom(0, java.lang.foreign.MemorySegment.ofArray(new byte[16 * dtype.byteSize()]));
             DeviceBuffer c = bridge().allocate(device(), dtype, 16)) {
            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, 4, 4, 4, 1, a, a, 0, c));
            assertTrue(c.byteSize() > 0);
        }
    }

    /** The largest single buffer is stated as a capability and holds: one element more is refused, typed, before any native call. */
    @Tag("R25")
    @Tag("faults")
    @Test
    default void largestAllocationIsStatedAndEnforced() {
        DType dtype = firstDtype();
        long largest = device().maxAllocationBytes();
        assumeTrue(largest > 0, device().id() + " does not state its largest allocation");
        if (device().memoryBytes() > 0) {
            assertTrue(largest <= device().memoryBytes(), "largest allocation " + largest + " > total memory " + device().memoryBytes());
        }
        long before = bridge().allocatedBytes();
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class,
                () -> bridge().allocate(device(), dtype, largest / dtype.byteSize() + 1));
        assertEquals(device().id(), e.deviceId(), "the exception names the device");
        assertTrue(e.getMessage().contains("largest single allocation"), e.getMessage());
        assertEquals(before, bridge().allocatedBytes(), "a refused allocation leaves the ledger unchanged");
        try (DeviceBuffer small = bridge().allocate(device(), dtype, 16)) {
            assertEquals(16L * dtype.byteSize(), small.byteSize());
        }
    }

    private static boolean overcommitAlways() {
        try {
            return Files.readString(Path.of("/proc/sys/vm/overcommit_memory")).trim().equals("1");
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }
}
