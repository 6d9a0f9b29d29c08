package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.BackendStatus;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.cpu.CpuBackendProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * RELIABILITY.md R40: vendor plugins that misbehave, built as decorators over the real CPU backend
 * (no fake device): one whose {@code open} throws, one whose probe throws, and one whose kernel is
 * wrong on edge tiles only (m not a multiple of 8). The bridge opens with the others; the broken
 * ones are reported with their cause in {@code doctor}; the wrong one fails doctor's verified probe
 * (odd sizes, so every tile dimension has a remainder), is quarantined with the reason, and no
 * later GEMM is placed on it. Arguments are checked in the bridge, so the plugin never sees a bad call.
 */
class MisbehavingPluginTest {

    @Tag("R40")
    @Test
    void brokenAndWrongPluginsAreRefusedOrQuarantinedWithTheirReasonAndTheBridgeKeepsRunning() {
        WrongEdgeTiles wrong = new WrongEdgeTiles();
        List<BackendProvider> providers = List.of(new CpuBackendProvider(), new ThrowsInOpen(), new ThrowsInProbe(), wrong);
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.HEALTH_PROBE, "1h"), providers)) {
            assertEquals(List.of("cpu:0", "vendor-edge:0"), bridge.devices().stream().map(Device::id).toList());
            BackendStatus open = status(bridge, "vendor-open");
            assertEquals(BackendStatus.State.FAILED, open.state());
            assertTrue(open.detail().contains("driver table is damaged"), open.detail());
            assertEquals(BackendStatus.State.UNAVAILABLE, status(bridge, "vendor-probe").state());
            assertTrue(status(bridge, "vendor-probe").detail().contains("probe threw"), status(bridge, "vendor-probe").detail());

            // No plugin sees an invalid call: the bridge rejects it first.
            long before = wrong.launches.get();
            float[] x = new float[9 * 9];
            assertThrows(IllegalArgumentException.class, () -> bridge.blas(Dispatch.pinned(bridge.device("vendor-edge:0")))
                    .sgemm("N", "N", 9, 9, 9, 1f, x, 8, x, 9, 0f, x.clone(), 9));
            assertEquals(before, wrong.launches.get(), "an invalid call reached the plugin");

            List<Doctor.Check> checks = Doctor.checks(bridge);
            Doctor.Check openCheck = check(checks, "backend vendor-open");
            assertFalse(openCheck.ok());
            assertTrue(openCheck.detail().contains("driver table is damaged"), openCheck.detail());
            assertFalse(check(checks, "backend vendor-probe").ok());
            Doctor.Check edge = check(checks, "device vendor-edge:0");
            assertFalse(edge.ok(), "a plugin wrong on edge tiles passed doctor's probe: " + edge.detail());
            assertTrue(edge.detail().startsWith("QUARANTINED"), edge.detail());
            assertTrue(check(checks, "device cpu:0").ok());
            assertEquals(HealthState.QUARANTINED, bridge.health(bridge.device("vendor-edge:0")));

            // The bridge keeps running: edge-tile GEMMs, placed freely, are exact and never reach the quarantined plugin.
            long launches = wrong.launches.get();
            for (int m : new int[] {1, 7, 9, 17, 33}) {
                int n = 5, k = 6;
                float[] a = new float[m * k], b = new float[k * n], c = new float[m * n], want = new float[m * n];
                for (int i = 0; i < a.length; i++) {
                    a[i] = i % 5 - 2;
                }
                for (int i = 0; i < b.length; i++) {
                    b[i] = i % 3 - 1;
                }
                for (int j = 0; j < n; j++) {
                    for (int p = 0; p < k; p++) {
                        for (int i = 0; i < m; i++) {
                            want[i + j * m] += a[i + p * m] * b[p + j * k];
                        }
                    }
                }
                bridge.blas().sgemm("N", "N", m, n, k, 1f, a, m, b, k, 0f, c, m);
                assertArrayEquals(want, c, "m = " + m);
            }
            assertEquals(launches, wrong.launches.get(), "work was placed on a quarantined plugin");
        }
    }

    private static BackendStatus status(KernelBridge bridge, String name) {
        return bridge.backends().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    private static Doctor.Check check(List<Doctor.Check> checks, String name) {
        return checks.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError("no check " + name));
    }

    /** A plugin whose runtime is present but whose initialisation throws. */
    static final class ThrowsInOpen extends Named {
        ThrowsInOpen() { super("vendor-open"); }

        @Override
        public Backend open(Config config) { throw new IllegalStateException("vendor runtime: driver table is damaged"); }
    }

    /** A plugin whose availability probe itself throws. */
    static final class ThrowsInProbe extends Named {
        ThrowsInProbe() { super("vendor-probe"); }

        @Override
        public Availability probe() { throw new UnsatisfiedLinkError("libvendor.so: undefined symbol vendorInit"); }
    }

    /** The real CPU backend under another name, wrong by one on the last element of C whenever m leaves an edge tile. */
    static final class WrongEdgeTiles extends Named {
        final AtomicLong launches = new AtomicLong();

        WrongEdgeTiles() { super("vendor-edge"); }

        @Override
        public Backend open(Config config) {
            Backend cpu = new CpuBackendProvider().open(config);
            BackendDevice inner = cpu.devices().getFirst();
            BackendDevice device = new BackendDevice() {
                @Override
                public DeviceInfo info() { return inner.info(); }

                @Override
                public BackendBuffer allocate(DType dtype, long elements) { return inner.allocate(dtype, elements); }

                @Override
                public boolean sharesHostMemory() { return inner.sharesHostMemory(); }

                @Override
                public BackendBuffer wrapHost(MemorySegment hostMemory) { return inner.wrapHost(hostMemory); }

                @Override
                public void gemm(GemmCall call) {
                    launches.incrementAndGet();
                    inner.gemm(call);
                    if (call.m() % 8 != 0 && call.n() > 0 && (call.dtype() == DType.F32 || call.dtype() == DType.F64)) {
                        long at = (call.offsetC() + (call.m() - 1) + (call.n() - 1) * call.ldc()) * call.dtype().byteSize();
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment one = arena.allocate(8);
                            MemorySegment v = one.asSlice(0, call.dtype().byteSize());
                            call.c().copyOut(at, v);
                            if (call.dtype() == DType.F32) {
                                v.set(ValueLayout.JAVA_FLOAT, 0, v.get(ValueLayout.JAVA_FLOAT, 0) + 1);
                            } else {
                                v.set(ValueLayout.JAVA_DOUBLE, 0, v.get(ValueLayout.JAVA_DOUBLE, 0) + 1);
                            }
                            call.c().copyIn(at, v);
                        }
                    }
                }
            };
            return new Backend() {
                @Override
                public List<BackendDevice> devices() { return List.of(device); }

                @Override
                public void close() { cpu.close(); }
            };
        }
    }

    private abstract static class Named implements BackendProvider {
        private final String name;

        Named(String name) { this.name = name; }

        @Override
        public String name() { return name; }

        @Override
        public int priority() { return 1; }

        @Override
        public Availability probe() { return Availability.ok("a decorator over the CPU backend"); }

        @Override
        public Backend open(Config config) { throw new UnsupportedOperationException(); }
    }
}
