package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.internal.faults.FaultPlan;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Dispatch settings and the fault-injection decorator over the real CPU backend, alone: with no
 * device to fall back to, an injected fault reaches the caller as a typed exception, C is untouched,
 * and the next call succeeds (RELIABILITY R24, R28).
 */
class DispatchConfigTest {
    @Test
    void dispatchSettingsAreParsedOrRejectedNamingTheProperty() {
        assertEquals(Dispatch.Policy.FASTEST, Dispatch.fromConfig(Config.defaults()).policy());
        Dispatch d = Dispatch.fromConfig(Config.defaults().with(Config.DISPATCH, "split:cpu:0,opencl:1").with(Config.FALLBACK, "forbid")
                .with(Config.GEMM_DEADLINE, "750ms"));
        assertEquals(Dispatch.Policy.SPLIT, d.policy());
        assertEquals(java.util.List.of("cpu:0", "opencl:1"), d.devices());
        assertFalse(d.fallback());
        assertEquals(Duration.ofMillis(750), d.deadline().orElseThrow());
        for (String[] bad : new String[][] {{"dispatch", "fastes"}, {"dispatch", "pinned"}, {"dispatch", "fastest:cpu:0"},
                {"fallback", "sometimes"}, {"gemm.deadline", "-1s"}}) {
            Config.Knob knob = switch (bad[0]) {
                case "dispatch" -> Config.DISPATCH;
                case "fallback" -> Config.FALLBACK;
                default -> Config.GEMM_DEADLINE;
            };
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dispatch.fromConfig(Config.defaults().with(knob, bad[1])));
            assertTrue(e.getMessage().contains(knob.property()), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> KernelBridge.open(Config.defaults().with(Config.DISPATCH, "pinned:gpu:7")));
        assertThrows(IllegalArgumentException.class, () -> Dispatch.fastest().withDeadline(Duration.ZERO));
    }

    @Test
    void faultPlansParseAndNameWhatIsWrong() {
        Map<String, FaultPlan> plans = FaultPlan.parse("opencl:1=fail-every:3,latency:20ms; cpu:0=hang,times:1");
        assertEquals(3, plans.get("opencl:1").failEvery());
        assertEquals(Duration.ofMillis(20), plans.get("opencl:1").latency());
        assertEquals(1, plans.get("cpu:0").hangEvery());
        assertEquals(1, plans.get("cpu:0").times());
        for (String bad : new String[] {"cpu:0", "cpu:0=fail-every:0", "cpu:0=wobble", "cpu:0=latency:soon"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FaultPlan.parse(bad));
            assertTrue(e.getMessage().contains("kernelbridge.faults"), e.getMessage());
        }
    }

    @Test
    void aFaultWithNowhereToGoIsThrownAndLeavesCUntouched() {
        for (String fault : new String[] {"fail-every:1,times:1", "hang,times:1", "lose-at:1"}) {
            Config config = Config.defaults().with(Config.BACKEND, "cpu").with(Config.FAULTS, "cpu:0=" + fault)
                    .with(Config.GEMM_DEADLINE, "1s");
            try (KernelBridge bridge = KernelBridge.open(config); Arena arena = Arena.ofShared()) {
                int n = 48;
                MemorySegment a = arena.allocate(4L * n * n), b = arena.allocate(4L * n * n), c = arena.allocate(4L * n * n);
                for (int i = 0; i < n * n; i++) {
                    a.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 5 - 2);
                    b.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 3 - 1);
                    c.setAtIndex(ValueLayout.JAVA_FLOAT, i, -7.25f);
                }
                float[] before = c.toArray(ValueLayout.JAVA_FLOAT);
                Blas blas = bridge.blas();
                long t0 = System.nanoTime();
                DeviceException e = assertThrows(DeviceException.class, () ->
                        blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 1f, c, n));
                assertTrue(System.nanoTime() - t0 < 30_000_000_000L, fault + ": the deadline must bound the call");
                assertEquals("cpu:0", e.deviceId(), fault);
                assertArrayEquals(before, c.toArray(ValueLayout.JAVA_FLOAT), fault + ": C must be untouched");
                if (fault.startsWith("hang")) {
                    assertTrue(e instanceof DeviceTimeoutException, fault + " gave " + e);
                    assertTrue(bridge.probe(bridge.device("cpu:0")), "the hang was injected once");
                }
                if (fault.startsWith("lose")) {
                    assertTrue(e instanceof DeviceLostException, fault + " gave " + e);
                    DeviceException next = assertThrows(DeviceException.class, () ->
                            blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 1f, c, n));
                    assertEquals("NO_HEALTHY_DEVICE", next.nativeName(), "nothing is sent to a lost device");
                    assertArrayEquals(before, c.toArray(ValueLayout.JAVA_FLOAT));
                    continue;
                }
                blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 1f, c, n);
                float want = -7.25f;
                for (int p = 0; p < n; p++) {
                    want += (float) ((p % 5 - 2) * ((p * n) % 3 - 1));
                }
                assertEquals(want, c.getAtIndex(ValueLayout.JAVA_FLOAT, 0), fault + ": the next call succeeds");
            }
        }
    }

    @Test
    void batchedArgumentsAreChecked() {
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu")); Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(4L * 64);
            Blas blas = bridge.blas();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> blas.sgemmBatched(Layout.ROW_MAJOR,
                    Transpose.NO_TRANS, Transpose.NO_TRANS, 4, 4, 4, 1f, s, 4, 16, s, 4, 16, 0f, arena.allocate(4L * 32), 4, 16, 3));
            assertTrue(e.getMessage().contains("c is too short"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> blas.sgemmBatched(Layout.ROW_MAJOR,
                    Transpose.NO_TRANS, Transpose.NO_TRANS, 4, 4, 4, 1f, s, 4, -1, s, 4, 16, 0f, arena.allocate(4L * 64), 4, 16, 2));
            assertTrue(e.getMessage().contains("strideA"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> blas.sgemmBatched(Layout.ROW_MAJOR,
                    Transpose.NO_TRANS, Transpose.NO_TRANS, 4, 4, 4, 1f, s, 4, 16, s, 4, 16, 0f, arena.allocate(4L * 64), 4, 16, -1));
        }
    }
}
