package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.WorkloadException;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pool's graded answers beyond drain and rebalance, on the CPU backend and two PoCL devices with
 * faults injected by the decorator over the real devices: a hot spare takes a drained device's place
 * at the next call, and stands by again when the device returns; work that fails alike on unlike
 * devices is blamed on the work, and no device leaves service for it (RELIABILITY: act on the
 * warning signs; never take a healthy device out for the caller's fault).
 */
class SparesAndBlameTest {
    private static final int N = 48;

    @BeforeEach
    void needOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    private static KernelBridge open(Config config) {
        BackendProvider cpu = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
        KernelBridge bridge = KernelBridge.open(config.with(Config.HEALTH_PROBE, "1h"), List.of(new OpenClBackendProvider(), cpu));
        long cl = bridge.devices().stream().filter(d -> d.backend().equals("opencl")).count();
        if (OpenClTestSupport.required()) {
            assertTrue(cl >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices");
        }
        assumeTrue(cl >= 2, "needs two OpenCL devices");
        return bridge;
    }

    private static float[] smallIntegers(SplittableRandom r, int length) {
        float[] x = new float[length];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(9) - 4;
        }
        return x;
    }

    /** C = A·B (column-major, m×k times k×n), exact on small integers. */
    private static float[] product(float[] a, float[] b, int m, int n, int k) {
        float[] c = new float[m * n];
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < k; p++) {
                for (int i = 0; i < m; i++) {
                    c[i + j * m] += a[i + p * m] * b[p + j * k];
                }
            }
        }
        return c;
    }

    private static long launches(KernelBridge kb, String id) {
        return kb.metrics().devices().stream().filter(d -> d.device().equals(id)).mapToLong(DeviceMetrics::launches).sum();
    }

    @Test
    void aHotSpareTakesTheDrainedDevicesPlaceAtTheNextCall() throws InterruptedException {
        // opencl:0's corrected errors climb from its launch 100; its memory gives out at launch 300.
        Config config = Config.defaults().with(Config.DISPATCH, "pinned:opencl:0").with(Config.SPARES, "opencl:1")
                .with(Config.FAULTS, "opencl:0=ce-trend:100,ce-ramp:200,seed:3");
        try (KernelBridge kb = open(config)) {
            List<DispatchEvent> events = new CopyOnWriteArrayList<>();
            AtomicInteger call = new AtomicInteger(), drainedAt = new AtomicInteger(-1);
            kb.subscribe(e -> {
                if (e instanceof DispatchEvent.HealthChange h && h.device().equals("opencl:0") && h.to() == HealthState.QUARANTINED) {
                    drainedAt.compareAndSet(-1, call.get());
                }
                events.add(e);
            });
            SplittableRandom r = new SplittableRandom(3);
            long spareBefore = -1;
            for (int i = 1; i <= 400; i++) {
                call.set(i);
                if (kb.health(kb.device("opencl:0")) == HealthState.HEALTHY) {
                    spareBefore = launches(kb, "opencl:1");
                }
                float[] a = smallIntegers(r, N * N), b = smallIntegers(r, N * N), c = new float[N * N];
                kb.blas().sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
                assertArrayEquals(product(a, b, N, N, N), c, "call " + i);
            }
            Thread.sleep(200); // events are delivered on their own thread
            assertTrue(drainedAt.get() > 100 && drainedAt.get() < 300, "opencl:0 drained at call " + drainedAt.get() + "; first events "
                    + events.subList(0, Math.min(3, events.size())));
            assertEquals(0, spareBefore, "the spare stood by while opencl:0 served");
            assertTrue(events.stream().anyMatch(e -> e instanceof DispatchEvent.Foresight f && f.device().equals("opencl:1")
                    && f.rule().equals("spare") && f.action().equals("activate") && f.why().contains("opencl:0")), "first events: "
                    + events.subList(0, Math.min(3, events.size())));
            // Every call pinned to opencl:0 after its drain ran on the spare, from the first one on; none on the CPU.
            List<DispatchEvent.Failover> moved = events.stream().filter(e -> e instanceof DispatchEvent.Failover).map(e -> (DispatchEvent.Failover) e).toList();
            assertTrue(!moved.isEmpty() && moved.stream().allMatch(f -> f.from().equals("opencl:0") && f.to().equals("opencl:1")),
                    "failovers not to the spare: " + moved.stream().filter(f -> !f.to().equals("opencl:1")).limit(3).toList());
            assertTrue(launches(kb, "opencl:1") >= 400 - drainedAt.get(), "opencl:1 ran " + launches(kb, "opencl:1") + " launches");
            assertEquals(0, launches(kb, "cpu:0"), "the CPU took none of it");
        }
    }

    @Test
    void aSpareStandsByAgainWhenTheDeviceItReplacedReturns() throws InterruptedException {
        // Two injected launch failures quarantine opencl:0 (health.failures = 2); its probe then passes.
        Config config = Config.defaults().with(Config.DISPATCH, "pinned:opencl:0").with(Config.SPARES, "opencl:1")
                .with(Config.FAULTS, "opencl:0=fail-every:1,times:2");
        try (KernelBridge kb = open(config)) {
            SplittableRandom r = new SplittableRandom(5);
            for (int i = 1; i <= 4; i++) {
                float[] a = smallIntegers(r, N * N), b = smallIntegers(r, N * N), c = new float[N * N];
                kb.blas().sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
                assertArrayEquals(product(a, b, N, N, N), c, "call " + i);
            }
            assertEquals(HealthState.QUARANTINED, kb.health(kb.device("opencl:0")));
            long spare = launches(kb, "opencl:1");
            assertTrue(spare >= 2, "the spare ran the calls after the quarantine: " + spare);
            assertTrue(kb.probe(kb.device("opencl:0")), "the probe passes once the injected faults are spent");
            // Not pinned now: FASTEST among serving devices must not see the spare any more.
            for (int i = 0; i < 20; i++) {
                float[] a = smallIntegers(r, N * N), b = smallIntegers(r, N * N), c = new float[N * N];
                kb.blas(dev.kernelbridge.Dispatch.fastest()).sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
                assertArrayEquals(product(a, b, N, N, N), c);
            }
            assertEquals(spare, launches(kb, "opencl:1"), "back on standby, the spare takes no work");
        }
    }

    @Test
    void workThatFailsAlikeOnUnlikeDevicesIsBlamedOnTheWork() throws InterruptedException {
        // Every device fails a GEMM with k = 37 (a poisoned input); other work runs normally.
        Config config = Config.defaults()
                .with(Config.FAULTS, "cpu:0=poison-k:37;opencl:0=poison-k:37;opencl:1=poison-k:37");
        try (KernelBridge kb = open(config)) {
            List<DispatchEvent> events = new CopyOnWriteArrayList<>();
            kb.subscribe(events::add);
            SplittableRandom r = new SplittableRandom(9);
            int k = 37;
            for (int i = 0; i < 6; i++) {
                float[] a = smallIntegers(r, N * k), b = smallIntegers(r, k * N), c = new float[N * N];
                WorkloadException e = assertThrows(WorkloadException.class, () -> kb.blas().sgemm("N", "N", N, N, k, 1f, a, N, b, k, 0f, c, N));
                assertEquals(2, e.devices().size(), e.getMessage());
                assertTrue(e.devices().contains("cpu:0"), "the CPU is unlike either OpenCL device: " + e.devices());
                assertTrue(e.getMessage().contains("the work is to blame"), e.getMessage());
                assertArrayEquals(new float[N * N], c, "nothing is written to C when the work fails");
            }
            for (String id : List.of("cpu:0", "opencl:0", "opencl:1")) {
                assertEquals(HealthState.HEALTHY, kb.health(kb.device(id)), id + " stays in service");
            }
            float[] a = smallIntegers(r, N * N), b = smallIntegers(r, N * N), c = new float[N * N];
            kb.blas().sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
            assertArrayEquals(product(a, b, N, N, N), c, "other work runs as before");
            Thread.sleep(200);
            assertTrue(events.stream().anyMatch(e -> e instanceof DispatchEvent.Foresight f && f.rule().equals("workload")), "events: " + events);
            assertTrue(events.stream().noneMatch(e -> e instanceof DispatchEvent.HealthChange), "no health change: " + events);
        }
    }

    @Test
    void aFailureOnOneDeviceAloneIsStillTheDevices() {
        // The same poisoned shape, but only opencl:0 fails it: the CPU runs it, and opencl:0 is marked.
        Config config = Config.defaults().with(Config.DISPATCH, "pinned:opencl:0").with(Config.FAULTS, "opencl:0=poison-k:37");
        try (KernelBridge kb = open(config)) {
            SplittableRandom r = new SplittableRandom(11);
            int k = 37;
            float[] a = smallIntegers(r, N * k), b = smallIntegers(r, k * N), c = new float[N * N];
            kb.blas().sgemm("N", "N", N, N, k, 1f, a, N, b, k, 0f, c, N);
            assertArrayEquals(product(a, b, N, N, k), c);
            assertEquals(HealthState.DEGRADED, kb.health(kb.device("opencl:0")), "a failure no other device shares is the device's");
        }
    }
}
