package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Acting before a device fails, on real devices with gradual faults injected (the fault decorator
 * over the real cpu:0): a corrected-error trend drains cpu:0 ahead of the hard fault it announces and
 * PoCL's opencl:0 takes the work, every result exact; an OpenCL device that slows down by 1.6× is
 * drained (cpu:0 takes its work), one that slows by 1.2× keeps working with a warning. The CPU itself
 * is never drained for slowness (its slowness is the machine's load), nor is a device whose work no
 * other device could take. (RELIABILITY: act on the warning signs, not the crash.)
 */
class ForesightTest {
    private static final int N = 64;

    private static float[] smallIntegers(SplittableRandom r) {
        float[] x = new float[N * N];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(9) - 4;
        }
        return x;
    }

    private static float[] product(float[] a, float[] b) {
        float[] c = new float[N * N];
        for (int j = 0; j < N; j++) {
            for (int p = 0; p < N; p++) {
                for (int i = 0; i < N; i++) {
                    c[i + j * N] += a[i + p * N] * b[p + j * N];
                }
            }
        }
        return c;
    }

    @Test
    void aCorrectedErrorTrendDrainsTheDeviceBeforeItsHardFaultAndNoWorkIsLost() {
        for (long seed = 1; seed <= 3; seed++) {
            // cpu:0's corrected errors climb 10-50x from launch 100; at launch 300 its memory gives out.
            Config config = Config.defaults().with(Config.BACKEND, "cpu,opencl")
                    .with(Config.FAULTS, "cpu:0=ce-trend:100,ce-ramp:200,seed:" + seed).with(Config.DISPATCH, "pinned:cpu:0");
            try (KernelBridge kb = KernelBridge.open(config)) {
                assumeTrue(kb.devices().stream().anyMatch(d -> d.backend().equals("opencl")), "no OpenCL device (PoCL) here");
                List<DispatchEvent.HealthChange> changes = new CopyOnWriteArrayList<>();
                AtomicInteger call = new AtomicInteger(), drainedAtCall = new AtomicInteger(-1);
                kb.subscribe(e -> {
                    if (e instanceof DispatchEvent.HealthChange h && h.device().equals("cpu:0")) {
                        changes.add(h);
                        drainedAtCall.compareAndSet(-1, call.get());
                    }
                });
                SplittableRandom r = new SplittableRandom(seed);
                Blas blas = kb.blas();
                for (int i = 1; i <= 400; i++) {
                    call.set(i);
                    float[] a = smallIntegers(r), b = smallIntegers(r), c = new float[N * N];
                    blas.sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N); // a lost step would throw here
                    assertArrayEquals(product(a, b), c, "call " + i);
                }
                assertTrue(!changes.isEmpty(), "seed " + seed + ": cpu:0 was never drained");
                DispatchEvent.HealthChange first = changes.getFirst();
                assertEquals(HealthState.QUARANTINED, first.to(), first.toString());
                assertTrue(first.reason().startsWith("drained, corrected memory errors rising"), first.reason());
                assertTrue(drainedAtCall.get() > 100 && drainedAtCall.get() < 300,
                        "seed " + seed + ": drained at call " + drainedAtCall.get() + ", the hard fault comes at cpu:0's launch 300");
                assertNotEquals(HealthState.HEALTHY, kb.health(kb.device("cpu:0")));
            }
        }
    }

    @Test
    void aTrendDrainedDeviceFailsItsSoakAndIsLostOutOfService() {
        // As above: drained between its launches 100 and 300; then only probes touch cpu:0. Each soaks it
        // for a window of launches, in which its corrected errors still climb: it stays out until its
        // memory gives out during a probe, and no work was on it.
        Config config = Config.defaults().with(Config.BACKEND, "cpu,opencl").with(Config.HEALTH_PROBE, "1h")
                .with(Config.FAULTS, "cpu:0=ce-trend:100,ce-ramp:200,seed:2").with(Config.DISPATCH, "pinned:cpu:0");
        try (KernelBridge kb = KernelBridge.open(config)) {
            assumeTrue(kb.devices().stream().anyMatch(d -> d.backend().equals("opencl")), "no OpenCL device (PoCL) here");
            Device cpu = kb.device("cpu:0");
            SplittableRandom r = new SplittableRandom(2);
            int calls = 0;
            for (; calls < 300 && kb.health(cpu) == HealthState.HEALTHY; calls++) {
                float[] a = smallIntegers(r), b = smallIntegers(r), c = new float[N * N];
                kb.blas().sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
                assertArrayEquals(product(a, b), c, "call " + calls);
            }
            assertEquals(HealthState.QUARANTINED, kb.health(cpu), "drained after " + calls + " calls");
            int probes = 0;
            while (kb.health(cpu) == HealthState.QUARANTINED && probes < 30) {
                probes++;
                assertTrue(!kb.probe(cpu), "probe " + probes + " passed while the corrected errors still climb");
            }
            assertEquals(HealthState.LOST, kb.health(cpu), "after " + probes + " probes");
            float[] a = smallIntegers(r), b = smallIntegers(r), c = new float[N * N];
            kb.blas().sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
            assertArrayEquals(product(a, b), c, "the work goes on elsewhere");
        }
    }

    /** The health changes of opencl:0 (PoCL, with cpu:0 beside it to take its work) when its launches (25 ms steps, 5% noise: a slowdown counts once it lasted a second) slow by {@code slow} from launch 150. */
    private static List<DispatchEvent.HealthChange> slowedBy(double slow, List<String> warnings) {
        Config config = Config.defaults().with(Config.BACKEND, "cpu,opencl").with(Config.DISPATCH, "pinned:opencl:0")
                .with(Config.FAULTS, "opencl:0=step:25ms,noise:5%,slow:" + slow + ",slow-from:150,seed:7");
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("dev.kernelbridge");
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord rec) {
                // the fault plan's own warning (faults are injected) is not one of the actions'
                if (rec.getLevel() == java.util.logging.Level.WARNING && !rec.getMessage().contains("faults injected")) {
                    warnings.add(java.text.MessageFormat.format(rec.getMessage(), rec.getParameters()));
                }
            }

            @Override
            public void flush() { }

            @Override
            public void close() { }
        };
        log.addHandler(capture);
        try (KernelBridge kb = KernelBridge.open(config)) {
            assumeTrue(kb.devices().stream().anyMatch(d -> d.id().equals("opencl:0")), "no OpenCL device (PoCL) here");
            List<DispatchEvent.HealthChange> changes = new CopyOnWriteArrayList<>();
            kb.subscribe(e -> {
                if (e instanceof DispatchEvent.HealthChange h && h.device().equals("opencl:0")) {
                    changes.add(h);
                }
            });
            int n = 80; // 1 MFLOP: every launch is timed
            float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
            for (int i = 0; i < 350 && kb.health(kb.device("opencl:0")).dispatchable(); i++) {
                kb.blas().sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
            }
            Thread.sleep(200); // health events are delivered on their own thread
            return changes;
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        } finally {
            log.removeHandler(capture);
        }
    }

    @Test
    void aLargeSlowdownDrainsTheDevice() {
        List<String> warnings = new CopyOnWriteArrayList<>();
        List<DispatchEvent.HealthChange> changes = slowedBy(1.6, warnings);
        assertTrue(!changes.isEmpty() && changes.getFirst().to() == HealthState.QUARANTINED, "changes: " + changes);
        assertTrue(changes.getFirst().reason().startsWith("drained, fail-slow"), changes.getFirst().reason());
        // One WARNING line per action: the drain's is its health change; before it, the first estimate
        // (which errs low) may have rebalanced, with its own line.
        assertEquals(1, warnings.stream().filter(w -> w.contains("QUARANTINED: drained, fail-slow")).count(), "warnings: " + warnings);
        assertTrue(warnings.size() == 1 || warnings.size() == 2 && warnings.getFirst().contains("rebalance (fail-slow)"), "warnings: " + warnings);
    }

    @Test
    void aSmallSlowdownRebalancesWithOneWarningAndKeepsTheDeviceInService() {
        List<String> warnings = new CopyOnWriteArrayList<>();
        List<DispatchEvent.HealthChange> changes = slowedBy(1.2, warnings);
        assertEquals(List.of(), changes, "a 1.2x slower device stays in service");
        assertEquals(1, warnings.size(), "warnings: " + warnings);
        assertTrue(warnings.getFirst().contains("rebalance (fail-slow)"), warnings.getFirst());
    }
}
