package dev.kernelbridge.opencl;

import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.Metrics;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Many devices as one: the CPU backend and two PoCL devices, real kernels on all three, faults
 * injected by the decorator over the real OpenCL device (RELIABILITY R03, R12, R24, R25, R27, R28,
 * R30, R32). Results are checked bitwise on exact data (small integers), so "correct" is not a tolerance.
 */
class OpenClDispatchTest {
    private static final int M = 200, N = 152, K = 72;

    @BeforeEach
    void needTwoDevices() {
        OpenClTestSupport.assumeOpenCl();
    }

    /** A bridge whose quarantined devices stay quarantined until a test probes them: no state asserted here races a timer. */
    private static KernelBridge open(String faults, String extra) {
        return open(faults, extra, "1h");
    }

    private static KernelBridge open(String faults, String extra, String probeAfter) {
        BackendProvider cpu = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
        Config config = Config.defaults().with(Config.HEALTH_PROBE, probeAfter);
        if (faults != null) {
            config = config.with(Config.FAULTS, faults);
        }
        if (extra != null) {
            config = config.with(Config.CANARY, extra).with(Config.CANARY_TILE, "512");
        }
        KernelBridge bridge = KernelBridge.open(config, List.of(new OpenClBackendProvider(), cpu));
        long cl = bridge.devices().stream().filter(d -> d.backend().equals("opencl")).count();
        if (OpenClTestSupport.required()) {
            assertTrue(cl >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices");
        }
        assumeTrue(cl >= 2, "needs two OpenCL devices");
        return bridge;
    }

    /** A GEMM on exact data (small integers: every order of summation gives the same bits) and its expected C. */
    private record Problem(MemorySegment a, MemorySegment b, MemorySegment c, float[] expected, float[] before) { }

    private static Problem problem(Arena arena, long seed, float beta) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[M * K], b = new float[K * N], c = new float[M * N];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextInt(-4, 5);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextInt(-4, 5);
        }
        for (int i = 0; i < c.length; i++) {
            c[i] = beta == 0 ? Float.NaN : r.nextInt(-9, 10);
        }
        float[] want = new float[M * N];
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                long s = 0;
                for (int p = 0; p < K; p++) {
                    s += (long) a[i * K + p] * (long) b[p * N + j];
                }
                want[i * N + j] = (float) (2 * s + (beta == 0 ? 0 : beta * c[i * N + j]));
            }
        }
        return new Problem(copy(arena, a), copy(arena, b), copy(arena, c), want, c.clone());
    }

    private static MemorySegment copy(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(4L * x.length, 64);
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
        return s;
    }

    private static void gemm(Blas blas, Problem p, float beta) {
        blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, M, N, K, 2f, p.a, K, p.b, N, beta, p.c, N);
    }

    private static float[] result(Problem p) {
        return p.c.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** The first event so far (or within 20 s) of this type that matches; events are delivered on the bridge's own thread. */
    private static <T extends DispatchEvent> T await(List<DispatchEvent> events, Class<T> type, Predicate<T> what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            for (DispatchEvent e : events) {
                if (type.isInstance(e) && what.test(type.cast(e))) {
                    return type.cast(e);
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no matching " + type.getSimpleName() + " event arrived; events: " + events);
    }

    @Tag("R12")
    @Test
    void splitAcrossCpuAndTwoOpenClDevicesIsExactAndUsesAllThree() {
        try (KernelBridge bridge = open(null, null); Arena arena = Arena.ofShared()) {
            // alwaysSplit: on shared cores the adaptive SPLIT may rightly keep to one device; here every GEMM is divided.
            Blas split = bridge.blas(Dispatch.split().alwaysSplit());
            for (int call = 0; call < 6; call++) {
                for (float beta : new float[] {0f, 1.5f}) {
                    Problem p = problem(arena, call, beta);
                    gemm(split, p, beta);
                    assertArrayEquals(p.expected, result(p), "call " + call + " beta " + beta);
                }
            }
            Metrics m = bridge.metrics();
            assertEquals(12, m.splitOperations(), "every GEMM should have been divided: " + m);
            for (Device d : bridge.devices()) {
                assertTrue(m.device(d.id()).launches() > 0, d.id() + " took no part: " + m);
            }
            // Batched: the batch items are what is divided.
            int batch = 6;
            List<Problem> items = new ArrayList<>();
            MemorySegment a = arena.allocate(4L * M * K * batch, 64), b = arena.allocate(4L * K * N * batch, 64), c = arena.allocate(4L * M * N * batch, 64);
            for (int i = 0; i < batch; i++) {
                Problem p = problem(arena, 100 + i, 0);
                items.add(p);
                MemorySegment.copy(p.a, 0, a, 4L * M * K * i, 4L * M * K);
                MemorySegment.copy(p.b, 0, b, 4L * K * N * i, 4L * K * N);
                MemorySegment.copy(p.c, 0, c, 4L * M * N * i, 4L * M * N);
            }
            for (int call = 0; call < 3; call++) {
                split.sgemmBatched(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, M, N, K, 2f,
                        a, K, (long) M * K, b, N, (long) K * N, 0f, c, N, (long) M * N, batch);
                for (int i = 0; i < batch; i++) {
                    float[] got = c.asSlice(4L * M * N * i, 4L * M * N).toArray(ValueLayout.JAVA_FLOAT);
                    assertArrayEquals(items.get(i).expected, got, "batch item " + i);
                }
            }
            assertEquals(m.splitOperations() + 3, bridge.metrics().splitOperations(), "batched GEMMs should have been split");
            // The adaptive SPLIT, on the same devices: whatever it decides, every result is exact.
            Blas adaptive = bridge.blas(Dispatch.split());
            for (int call = 0; call < 20; call++) {
                Problem p = problem(arena, 200 + call, 1.5f);
                gemm(adaptive, p, 1.5f);
                assertArrayEquals(p.expected, result(p), "adaptive call " + call);
            }
        }
    }

    @Tag("R27")
    @Tag("R31")
    @Test
    void failuresAreRoutedAroundThenTheDeviceIsQuarantinedAndRestoredByItsProbe() throws Exception {
        try (KernelBridge bridge = open("opencl:1=fail-every:1,times:2", null, "100ms"); Arena arena = Arena.ofShared()) {
            Device bad = bridge.device("opencl:1");
            List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            Blas pinned = bridge.blas(Dispatch.pinned(bad));
            for (int call = 0; call < 2; call++) {
                Problem p = problem(arena, call, 1.5f);
                gemm(pinned, p, 1.5f);
                assertArrayEquals(p.expected, result(p), "call " + call + " must be correct although opencl:1 failed");
            }
            DispatchEvent.Failover f = await(events, DispatchEvent.Failover.class, e -> e.from().equals("opencl:1"));
            assertTrue(f.reason().contains("INJECTED_LAUNCH_FAILURE"), f.reason());
            await(events, DispatchEvent.HealthChange.class, e -> e.to() == HealthState.DEGRADED);
            DispatchEvent.HealthChange quarantined = await(events, DispatchEvent.HealthChange.class, e -> e.to() == HealthState.QUARANTINED);
            long launches = bridge.metrics().device("opencl:1").launches();
            Problem p = problem(arena, 7, 0);
            gemm(pinned, p, 0);
            assertArrayEquals(p.expected, result(p));
            // The automatic probe (due after 100 ms) brings it back. The order of events is asserted, not the
            // state at one instant: on a busy machine the probe may already have run by the line above.
            await(events, DispatchEvent.HealthChange.class, e -> e.device().equals("opencl:1") && e.to() == HealthState.HEALTHY
                    && events.indexOf(e) > events.indexOf(quarantined));
            assertEquals(HealthState.HEALTHY, bridge.health(bad));
            assertTrue(bridge.metrics().device("opencl:1").probes() >= 1);
            Problem q = problem(arena, 8, 1.5f);
            gemm(pinned, q, 1.5f);
            assertArrayEquals(q.expected, result(q));
            assertTrue(bridge.metrics().device("opencl:1").launches() > launches, "back in service after its probe");
            assertTrue(bridge.metrics().failovers() >= 3, bridge.metrics().toString());
        }
    }

    @Tag("R28")
    @Test
    void aHungDeviceMissesItsDeadlineAndTheWorkIsRerunElsewhere() throws Exception {
        try (KernelBridge bridge = open("opencl:1=hang,times:1", null); Arena arena = Arena.ofShared()) {
            Device bad = bridge.device("opencl:1");
            List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            Problem p = problem(arena, 3, 1.5f);
            long t0 = System.nanoTime();
            gemm(bridge.blas(Dispatch.pinned(bad).withDeadline(Duration.ofSeconds(2))), p, 1.5f);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertArrayEquals(p.expected, result(p));
            assertTrue(ms < 60_000, "the deadline (2 s) must bound the call, took " + ms + " ms");
            DispatchEvent.Failover f = await(events, DispatchEvent.Failover.class, e -> true);
            assertTrue(f.reason().contains("deadline"), f.reason());
            assertEquals(1, bridge.metrics().device("opencl:1").timeouts());
            assertTrue(bridge.probe(bad), "the hang was injected once; the probe must pass");
            assertEquals(HealthState.HEALTHY, bridge.health(bad));
        }
    }

    @Tag("R30")
    @Test
    void aCanaryCatchesACorruptResultAndTheCallerStillGetsTheRightOne() throws Exception {
        try (KernelBridge bridge = open("opencl:1=corrupt-every:1,times:1", "1"); Arena arena = Arena.ofShared()) {
            Device bad = bridge.device("opencl:1");
            List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            Problem p = problem(arena, 5, 1.5f);
            gemm(bridge.blas(Dispatch.pinned(bad)), p, 1.5f);
            assertArrayEquals(p.expected, result(p), "the corrupt value must never reach C");
            DispatchEvent.CanaryMismatch c = await(events, DispatchEvent.CanaryMismatch.class, e -> true);
            assertEquals("opencl:1", c.device());
            assertEquals(HealthState.QUARANTINED, bridge.health(bad));
            assertEquals(1, bridge.metrics().canaryMismatches());
            assertEquals(1, bridge.metrics().device("opencl:1").corruptions());
        }
    }

    /**
     * The pool with the ML types, BF16 → F32 and I8 → I32 on exact data (small integers): split over
     * the CPU and two PoCL devices while one fails every other launch, failed pieces re-run elsewhere;
     * and pinned to a device that corrupts a result, which the canary catches before C is written.
     */
    @Test
    void bf16AndInt8GemmsSplitFailOverAndPassTheCanaryLikeF32() throws Exception {
        for (DType in : List.of(DType.BF16, DType.I8)) {
            try (KernelBridge bridge = open("opencl:1=fail-every:2,times:3", null); Arena arena = Arena.ofShared()) {
                List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
                bridge.subscribe(events::add);
                for (int call = 0; call < 3; call++) {
                    typedGemm(bridge.blas(Dispatch.split().alwaysSplit()), arena, in, 14 + call);
                }
                await(events, DispatchEvent.Failover.class, e -> e.from().equals("opencl:1"));
            }
            try (KernelBridge bridge = open("opencl:1=corrupt-every:1,times:1", "1"); Arena arena = Arena.ofShared()) {
                List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
                bridge.subscribe(events::add);
                typedGemm(bridge.blas(Dispatch.pinned(bridge.device("opencl:1"))), arena, in, 20);
                assertEquals("opencl:1", await(events, DispatchEvent.CanaryMismatch.class, e -> true).device());
                assertEquals(HealthState.QUARANTINED, bridge.health(bridge.device("opencl:1")));
            }
        }
    }

    /** C := 2·A·B on small integers in {@code in} (C in F32 or I32), checked exactly. */
    private static void typedGemm(Blas blas, Arena arena, DType in, long seed) {
        boolean int8 = in == DType.I8;
        DType out = int8 ? DType.I32 : DType.F32;
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment a = arena.allocate((long) M * K * in.byteSize()), b = arena.allocate((long) K * N * in.byteSize());
        MemorySegment c = arena.allocate((long) M * N * out.byteSize());
        long[] av = new long[M * K], bv = new long[K * N];
        for (long[] v : List.of(av, bv)) {
            MemorySegment s = v == av ? a : b;
            for (int i = 0; i < v.length; i++) {
                v[i] = int8 ? r.nextInt(-128, 128) : r.nextInt(-4, 5);
                if (int8) {
                    s.set(ValueLayout.JAVA_BYTE, i, (byte) v[i]);
                } else {
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, NarrowFloat.toBf16(v[i]));
                }
            }
        }
        blas.gemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, M, N, K, 2, in, a, K, b, N, 0, out, c, N);
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                long s = 0;
                for (int p = 0; p < K; p++) {
                    s += av[i * K + p] * bv[p * N + j];
                }
                double got = int8 ? c.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, (long) i * N + j)
                        : c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) i * N + j);
                assertEquals(2.0 * s, got, 0.0, in.label() + " C(" + i + "," + j + ")");
            }
        }
    }

    @Tag("R30")
    @Test
    void aCorruptCheckerIsTakenOutOfServiceAndNeverBlamesTheHonestDevice() throws Exception {
        // Two devices that disagree cannot tell which of them is wrong; the host's own value of the element decides.
        try (KernelBridge bridge = open("opencl:1=corrupt-every:1,times:1;cpu:0=corrupt-every:1,times:1", "1"); Arena arena = Arena.ofShared()) {
            Device honest = bridge.device("opencl:0");
            List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            Problem p = problem(arena, 9, 0.5f);
            gemm(bridge.blas(Dispatch.pinned(honest)), p, 0.5f);
            assertArrayEquals(p.expected, result(p));
            DispatchEvent.CanaryMismatch c = await(events, DispatchEvent.CanaryMismatch.class, e -> true);
            assertTrue(c.device().equals("opencl:1") || c.device().equals("cpu:0"), "the checker is blamed, not " + c.device());
            assertEquals(HealthState.QUARANTINED, bridge.health(bridge.device(c.device())));
            assertEquals(HealthState.HEALTHY, bridge.health(honest));
            assertEquals(0, bridge.metrics().device("opencl:0").corruptions());
        }
    }

    @Tag("R32")
    @Test
    void aFailedAttemptNeverLeavesAPartialWriteInC() {
        for (String faults : List.of("opencl:0=fail-every:1", "opencl:0=oom-every:3", "opencl:0=lose-at:1")) {
            try (KernelBridge bridge = open(faults, null); Arena arena = Arena.ofShared()) {
                Problem p = problem(arena, 11, 1.5f);
                float[] before = result(p);
                Dispatch noFallback = Dispatch.pinned(bridge.device("opencl:0")).withFallback(false);
                DeviceException e = assertThrows(DeviceException.class, () -> gemm(bridge.blas(noFallback), p, 1.5f));
                assertEquals("opencl:0", e.deviceId(), faults);
                assertArrayEquals(before, result(p), faults + ": C must be untouched");
                // A split where one piece fails and fallback is forbidden: C untouched as a whole.
                Dispatch split = Dispatch.split(List.of(bridge.device("cpu:0"), bridge.device("opencl:0"))).alwaysSplit().withFallback(false);
                for (int call = 0; call < 10; call++) {
                    Problem q = problem(arena, 20 + call, 1.5f);
                    float[] qBefore = result(q);
                    try {
                        gemm(bridge.blas(split), q, 1.5f);
                        assertArrayEquals(q.expected, result(q), faults + " call " + call);
                    } catch (DeviceException x) {
                        assertArrayEquals(qBefore, result(q), faults + " call " + call + ": C must be untouched");
                    }
                }
            }
        }
    }

    @Tag("R32")
    @Tag("R25")
    @Test
    void aSplitPieceThatFailsIsRerunAndOutOfMemoryIsNotHeldAgainstTheDevice() throws Exception {
        try (KernelBridge bridge = open("opencl:1=oom-every:1", null); Arena arena = Arena.ofShared()) {
            List<DispatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            bridge.subscribe(events::add);
            Blas pinned = bridge.blas(Dispatch.pinned(bridge.device("opencl:1")));
            for (int call = 0; call < 4; call++) {
                Problem p = problem(arena, 30 + call, 0);
                gemm(pinned, p, 0);
                assertArrayEquals(p.expected, result(p));
            }
            assertTrue(await(events, DispatchEvent.Failover.class, e -> true).reason().contains("INJECTED_OUT_OF_MEMORY"));
            assertEquals(HealthState.HEALTHY, bridge.health(bridge.device("opencl:1")), "out of memory is not a device fault (R25)");
        }
        try (KernelBridge bridge = open("opencl:1=fail-every:2", null); Arena arena = Arena.ofShared()) {
            Blas split = bridge.blas(Dispatch.split().alwaysSplit());
            for (int call = 0; call < 40; call++) {
                Problem p = problem(arena, 40 + call, 1.5f);
                gemm(split, p, 1.5f);
                assertArrayEquals(p.expected, result(p), "call " + call);
            }
            assertTrue(bridge.metrics().failovers() >= 1, bridge.metrics().toString());
        }
    }

    @Tag("R29")
    @Test
    void aLostDeviceIsNeverUsedAgainAndItsBuffersRefuseWork() {
        try (KernelBridge bridge = open("opencl:1=lose-at:1", null); Arena arena = Arena.ofShared()) {
            Device lost = bridge.device("opencl:1");
            Problem p = problem(arena, 50, 0);
            gemm(bridge.blas(Dispatch.pinned(lost)), p, 0);
            assertArrayEquals(p.expected, result(p));
            assertEquals(HealthState.LOST, bridge.health(lost));
            assertTrue(!bridge.probe(lost), "a lost device is not probed back");
            try (DeviceBuffer a = bridge.allocate(lost, DType.F32, 16); DeviceBuffer b = bridge.allocate(lost, DType.F32, 16);
                 DeviceBuffer c = bridge.allocate(lost, DType.F32, 16)) {
                GemmOp op = GemmOp.builder().shape(4, 4, 4).a(a).b(b).c(c).build();
                DeviceLostException e = assertThrows(DeviceLostException.class, () -> bridge.gemm(op));
                assertEquals("opencl:1", e.deviceId());
            }
            for (int call = 0; call < 10; call++) {
                Problem q = problem(arena, 60 + call, 1.5f);
                gemm(bridge.blas(Dispatch.split()), q, 1.5f);
                assertArrayEquals(q.expected, result(q));
            }
            assertEquals(1, bridge.metrics().device("opencl:1").launches(), "nothing is sent to a lost device");
        }
    }

    @Test
    void failoversAndHealthChangesAreJfrEvents() throws Exception {
        Path file = Files.createTempFile("kernelbridge-", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("dev.kernelbridge.Failover");
            recording.enable("dev.kernelbridge.DeviceHealthChange");
            recording.enable("dev.kernelbridge.KernelLaunch");
            recording.start();
            try (KernelBridge bridge = open("opencl:1=fail-every:1,times:1", null); Arena arena = Arena.ofShared()) {
                Problem p = problem(arena, 70, 0);
                gemm(bridge.blas(Dispatch.pinned(bridge.device("opencl:1"))), p, 0);
                assertArrayEquals(p.expected, result(p));
            }
            recording.stop();
            recording.dump(file);
            List<RecordedEvent> events = RecordingFile.readAllEvents(file);
            RecordedEvent failover = events.stream().filter(e -> e.getEventType().getName().equals("dev.kernelbridge.Failover")).findFirst()
                    .orElseThrow(() -> new AssertionError("no dev.kernelbridge.Failover event"));
            assertEquals("opencl:1", failover.getString("from"));
            assertNotEquals("opencl:1", failover.getString("to"));
            assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("dev.kernelbridge.DeviceHealthChange")
                    && e.getString("to").equals("DEGRADED")));
            assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("dev.kernelbridge.KernelLaunch")
                    && !e.getBoolean("success")));
            assertEquals("KernelBridge", failover.getEventType().getCategoryNames().getFirst());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void badFaultAndDispatchSettingsNameTheKnob() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> open("opencl:9=fail-every:1", null));
        assertTrue(e.getMessage().contains("kernelbridge.faults") && e.getMessage().contains("opencl:9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> open("opencl:0=explode", null));
        assertTrue(e.getMessage().contains("unknown fault 'explode'"), e.getMessage());
        assertInstanceOf(IllegalArgumentException.class, assertThrows(IllegalArgumentException.class,
                () -> KernelBridge.open(Config.defaults().with(Config.DISPATCH, "pinned:"), List.of(new OpenClBackendProvider()))));
    }
}
