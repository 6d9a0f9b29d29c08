package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.GroupedGemm;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A grouped GEMM split across the CPU and two PoCL devices as whole groups, with launch failures
 * injected into one PoCL device: its groups fail over, and every group's C is right bitwise (exact
 * small-integer data), the rows outside every group untouched.
 */
class OpenClGroupedDispatchTest {
    /** A skewed router's expert sizes: empty, single-row and large groups. */
    private static final long[] SIZES = {150, 0, 1, 64, 33, 220, 7, 96};
    private static final int N = 72, K = 48;

    @BeforeEach
    void needOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    private static KernelBridge open(String faults) {
        BackendProvider cpu = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
        KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.HEALTH_PROBE, "100ms").with(Config.FAULTS, faults),
                List.of(new OpenClBackendProvider(), cpu));
        long cl = bridge.devices().stream().filter(d -> d.backend().equals("opencl")).count();
        if (OpenClTestSupport.required()) {
            assertTrue(cl >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices");
        }
        assumeTrue(cl >= 2, "needs two OpenCL devices");
        return bridge;
    }

    @Test
    void wholeGroupsAreSplitAcrossDevicesAndAFailingDevicesGroupsFailOver() throws Exception {
        try (KernelBridge bridge = open("opencl:1=fail-every:1,times:2"); Arena arena = Arena.ofShared()) {
            List<DispatchEvent> events = new CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            GroupedGemm grouped = bridge.groupedGemm().with(Dispatch.split());
            long[] offsets = new long[SIZES.length + 1];
            for (int g = 0; g < SIZES.length; g++) {
                offsets[g + 1] = offsets[g] + SIZES[g];
            }
            int rows = (int) offsets[SIZES.length] + 3, groups = SIZES.length;
            for (int call = 0; call < 4; call++) {
                SplittableRandom r = new SplittableRandom(call);
                float[] a = ints(r, rows * K), b = ints(r, groups * K * N), c = ints(r, rows * N);
                float[] want = c.clone();
                for (int g = 0; g < groups; g++) {
                    for (long i = offsets[g]; i < offsets[g + 1]; i++) {
                        for (int j = 0; j < N; j++) {
                            long s = 0;
                            for (int p = 0; p < K; p++) {
                                s += (long) a[(int) i * K + p] * (long) b[g * K * N + p * N + j];
                            }
                            want[(int) i * N + j] = 2 * s - c[(int) i * N + j];
                        }
                    }
                }
                MemorySegment sa = copy(arena, a), sb = copy(arena, b), sc = copy(arena, c);
                grouped.gemmRagged(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, offsets, N, K, 2,
                        DType.F32, sa, K, sb, N, (long) K * N, -1, DType.F32, sc, N);
                assertArrayEquals(want, sc.toArray(ValueLayout.JAVA_FLOAT), "call " + call + ": every group correct, nothing else written");
            }
            assertTrue(events.stream().anyMatch(e -> e instanceof DispatchEvent.Failover f && f.from().equals("opencl:1")
                    && f.part().startsWith("group") && f.reason().contains("INJECTED_LAUNCH_FAILURE")), events.toString());
            long used = bridge.metrics().devices().stream().filter(d -> d.launches() > 0).count();
            assertTrue(used >= 2, "whole groups should have gone to more than one device: " + bridge.metrics());
            assertTrue(bridge.metrics().splitOperations() >= 1 && bridge.metrics().failovers() >= 1, bridge.metrics().toString());
        }
    }

    private static float[] ints(SplittableRandom r, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = r.nextInt(-4, 5);
        }
        return v;
    }

    private static MemorySegment copy(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(4L * x.length, 64);
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
        return s;
    }
}
