package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Lifecycle races and lifetimes (RELIABILITY.md R18, R19, R20), through the public API on the
 * device under test. jcstress is not available here, and Lincheck's model checker cannot steer the
 * threads inside a native runtime (PoCL's own workers), so this is a plain stress harness: threads
 * lined up on a barrier so that the racing calls start together, many rounds, and after every
 * round an explicit check of the invariant. The data are small integers, so every correct result
 * is exact and "fully correct" means bit-equal to an integer reference.
 *
 * <p>Rounds scale with {@code -Dkernelbridge.test.stress=N} (default 1: a few seconds per case;
 * the nightly job raises it). Invariants:
 * <ul>
 *   <li>R18a: a GEMM racing {@code close()} of the bridge or of one of its buffers either completes
 *       with C exactly right, or throws {@link IllegalStateException} with C bit-identical to its
 *       earlier contents. Never a partial C, never another exception, never a hang.</li>
 *   <li>R18b: concurrent {@code close()} calls of one bridge or buffer all return without error; the
 *       backend is closed once and every buffer released once (device-side ledger back to zero).</li>
 *   <li>R18c: once a caller has seen its device QUARANTINED, its calls are refused by the bridge
 *       ({@code QUARANTINED}) and never reach the device; after the flip at most one launch per thread
 *       (already past the check) still reaches it; the quarantine is announced by exactly one event.</li>
 *   <li>R18d: bridges opened while other threads list their devices are seen whole or closed: every
 *       device listed has its id, types and health, and the list is the same every time.</li>
 *   <li>R19: use after close (buffer, bridge, a segment of a closed arena) is {@link IllegalStateException};
 *       closing a buffer that a call holds waits for the call; closing a shared arena while a call reads
 *       it ends in a completed call or an {@link IllegalStateException}, never a crash.</li>
 *   <li>R20: a segment confined to the calling thread works (the bridge copies it on that thread
 *       before any other thread runs); one confined to another thread is refused at submission with
 *       {@link WrongThreadException}, as is a confined segment handed to an asynchronous form.</li>
 * </ul>
 */
public interface LifecycleConformance extends KitContext {

    /** The stress factor: rounds per case are a base count times this. */
    static int stress() {
        return Math.max(1, Integer.getInteger("kernelbridge.test.stress", 1));
    }

    // ---------------------------------------------------------------- exact host data

    /** A small-integer GEMM on host segments, column-major, C := A·B (beta 0), with its exact answer. */
    record HostCase(DType dtype, int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c, double[] expected) {
        static final double SENTINEL = 7;

        static HostCase of(Arena arena, DType dtype, int m, int n, int k, long seed) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
            double[] a = new double[m * k], b = new double[k * n], want = new double[m * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = rnd.nextInt(-3, 4);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = rnd.nextInt(-3, 4);
            }
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < k; p++) {
                    for (int i = 0; i < m; i++) {
                        want[i + j * m] += a[i + p * m] * b[p + j * k];
                    }
                }
            }
            HostCase hc = new HostCase(dtype, m, n, k, segment(arena, dtype, a), segment(arena, dtype, b),
                    segment(arena, dtype, new double[m * n]), want);
            hc.resetC();
            return hc;
        }

        void resetC() {
            for (int i = 0; i < m * n; i++) {
                put(dtype, c, i, SENTINEL);
            }
        }

        void run(Blas blas) {
            blas.gemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1, dtype, a, m, b, k, 0, dtype, c, m);
        }

        boolean cIsExact() {
            for (int i = 0; i < m * n; i++) {
                if (get(dtype, c, i) != expected[i]) {
                    return false;
                }
            }
            return true;
        }

        boolean cIsUntouched() {
            for (int i = 0; i < m * n; i++) {
                if (Double.doubleToRawLongBits(get(dtype, c, i)) != Double.doubleToRawLongBits(SENTINEL)) {
                    return false;
                }
            }
            return true;
        }
    }

    static MemorySegment segment(Arena arena, DType dtype, double[] values) {
        MemorySegment s = arena.allocate((long) values.length * dtype.byteSize(), dtype.byteSize());
        for (int i = 0; i < values.length; i++) {
            put(dtype, s, i, values[i]);
        }
        return s;
    }

    static void put(DType dtype, MemorySegment s, long i, double v) {
        if (dtype == DType.F32) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
        } else {
            s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
        }
    }

    static double get(DType dtype, MemorySegment s, long i) {
        return dtype == DType.F32 ? s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i) : s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
    }

    /** F32 or F64: the types the host segments of this area are written in. */
    private DType hostType() {
        DType t = firstDtype();
        assumeTrue(device().supports(t), device().id() + " declares neither F32 nor F64");
        return t;
    }

    /** Runs {@code tasks} on their own platform threads, all released by one barrier; rethrows nothing, returns each outcome. */
    static List<Throwable> race(List<Runnable> tasks) {
        CyclicBarrier start = new CyclicBarrier(tasks.size());
        List<Throwable> outcomes = new ArrayList<>(java.util.Collections.nCopies(tasks.size(), null));
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            int index = i;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await(30, TimeUnit.SECONDS);
                    tasks.get(index).run();
                } catch (Throwable t) {
                    outcomes.set(index, t);
                }
            }));
        }
        for (Thread t : threads) {
            try {
                t.join(TimeUnit.MINUTES.toMillis(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
            assertFalse(t.isAlive(), "a racing call hung for 2 minutes");
        }
        return outcomes;
    }

    // ---------------------------------------------------------------- R18a: close racing GEMM

    @Tag("R18")
    @Tag("lifetime")
    @Test
    default void closeRacingAHostGemmCompletesOrRefusesAndNeverHalfWritesC() {
        DType dtype = hostType();
        int rounds = 12 * stress();
        int completed = 0, refused = 0;
        for (int round = 0; round < rounds; round++) {
            try (Arena arena = Arena.ofShared()) {
                KernelBridge other = KernelBridge.open(config(), providers());
                Blas blas = other.blas(Dispatch.pinned(other.device(deviceId())));
                List<HostCase> cases = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    cases.add(HostCase.of(arena, dtype, 48 + 16 * t, 40, 64, round * 31L + t));
                }
                List<Runnable> tasks = new ArrayList<>();
                cases.forEach(hc -> tasks.add(() -> hc.run(blas)));
                tasks.add(other::close);
                List<Throwable> outcomes = race(tasks);
                assertEquals(null, outcomes.getLast(), "close() threw");
                for (int t = 0; t < cases.size(); t++) {
                    Throwable o = outcomes.get(t);
                    HostCase hc = cases.get(t);
                    if (o == null) {
                        assertTrue(hc.cIsExact(), "round " + round + ": a GEMM that completed left a wrong C");
                        completed++;
                    } else {
                        assertTrue(o instanceof IllegalStateException, "a GEMM racing close() threw " + o);
                        assertTrue(hc.cIsUntouched(), "round " + round + ": a refused GEMM wrote C (" + o.getMessage() + ")");
                        refused++;
                    }
                }
                assertThrows(IllegalStateException.class, () -> cases.getFirst().run(blas), "a GEMM after close");
            }
        }
        reportFigures().put("close-vs-host-gemm completed/refused", completed + "/" + refused);
    }

    @Tag("R18")
    @Tag("lifetime")
    @Test
    default void closingABufferRacingAGemmCompletesOrRefusesAndNeverHalfWritesC() {
        DType dtype = hostType();
        int rounds = 40 * stress();
        int m = 32, n = 24, k = 40;
        int completed = 0, refused = 0;
        try (Arena arena = Arena.ofShared()) {
            HostCase data = HostCase.of(arena, dtype, m, n, k, 99);
            double[] sentinel = new double[m * n];
            java.util.Arrays.fill(sentinel, HostCase.SENTINEL);
            for (int round = 0; round < rounds; round++) {
                DeviceBuffer a = bridge().allocate(device(), dtype, (long) m * k), b = bridge().allocate(device(), dtype, (long) k * n);
                try (DeviceBuffer c = bridge().allocate(device(), dtype, (long) m * n)) {
                    a.copyFrom(0, data.a());
                    b.copyFrom(0, data.b());
                    c.copyFrom(0, segment(arena, dtype, sentinel));
                    GemmOp op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).alpha(1).a(a, 0, m).b(b, 0, k).beta(0).c(c, 0, m).build();
                    DeviceBuffer victim = round % 2 == 0 ? a : b;
                    List<Throwable> outcomes = race(List.of(() -> bridge().gemm(op), victim::close));
                    assertEquals(null, outcomes.get(1), "close() threw");
                    MemorySegment got = arena.allocate((long) m * n * dtype.byteSize());
                    c.copyTo(0, got);
                    Throwable o = outcomes.get(0);
                    if (o == null) {
                        for (int i = 0; i < m * n; i++) {
                            assertEquals(data.expected()[i], get(dtype, got, i), "round " + round + ": completed GEMM, C[" + i + "]");
                        }
                        completed++;
                    } else {
                        assertTrue(o instanceof IllegalStateException, "a GEMM racing a buffer's close() threw " + o);
                        for (int i = 0; i < m * n; i++) {
                            assertEquals(HostCase.SENTINEL, get(dtype, got, i), "round " + round + ": refused GEMM wrote C[" + i + "]");
                        }
                        refused++;
                    }
                } finally {
                    a.close();
                    b.close();
                }
            }
        }
        reportFigures().put("close-buffer-vs-gemm completed/refused", completed + "/" + refused);
    }

    // ---------------------------------------------------------------- R18b: close racing close

    @Tag("R18")
    @Tag("lifetime")
    @Test
    default void concurrentClosesHaveExactlyOneEffect() {
        DType dtype = hostType();
        int rounds = 10 * stress();
        for (int round = 0; round < rounds; round++) {
            List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
            KernelBridge other = KernelBridge.open(config(), counted);
            Device d = other.device(deviceId());
            List<DeviceBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                buffers.add(other.allocate(d, dtype, 64 + i));
            }
            List<Runnable> tasks = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                tasks.add(other::close);
                tasks.add(buffers.get(t)::close);
                tasks.add(buffers.get((t + 1) % 4)::close);
            }
            List<Throwable> outcomes = race(tasks);
            for (Throwable o : outcomes) {
                assertEquals(null, o, "a concurrent close() threw");
            }
            long opened = other.backends().stream().filter(s -> s.state() == dev.kernelbridge.BackendStatus.State.OPENED).count();
            assertEquals(opened, counted.stream().mapToLong(c -> c.backendCloses.get()).sum(), "each opened backend is closed exactly once");
            assertEquals(0, counted.stream().mapToLong(c -> c.doubleReleases.get()).sum(), "a buffer was released twice");
            assertEquals(0, counted.stream().mapToLong(c -> c.liveBuffers.get()).sum(), "device buffers left unreleased");
            assertEquals(0, other.allocatedBytes(), "the bridge's ledger after every close");
            buffers.forEach(b -> assertTrue(b.isClosed()));
        }
    }

    // ---------------------------------------------------------------- R18c: health flip racing dispatch

    @Tag("R18")
    @Tag("faults")
    @Test
    default void aDeviceSeenQuarantinedIsNeverGivenNewWork() throws Exception {
        DType dtype = hostType();
        int failures = 3, threads = 4;
        Config faulty = config().with(Config.FAULTS, deviceId() + "=fail-every:1")
                .with(Config.HEALTH_FAILURES, String.valueOf(failures)).with(Config.HEALTH_PROBE, "1h");
        for (int round = 0; round < 3 * stress(); round++) {
            try (KernelBridge other = KernelBridge.open(faulty, providers())) {
                Device d = other.device(deviceId());
                List<DispatchEvent.HealthChange> quarantines = new java.util.concurrent.CopyOnWriteArrayList<>();
                CountDownLatch announced = new CountDownLatch(1);
                AutoCloseable subscription = other.subscribe(e -> {
                    if (e instanceof DispatchEvent.HealthChange h && h.device().equals(d.id()) && h.to() == HealthState.QUARANTINED) {
                        quarantines.add(h);
                        announced.countDown();
                    }
                });
                List<DeviceBuffer> held = new ArrayList<>();
                AtomicInteger reached = new AtomicInteger(), refusedAfterSeen = new AtomicInteger();
                List<Runnable> tasks = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    DeviceBuffer a = other.allocate(d, dtype, 64), c = other.allocate(d, dtype, 64);
                    held.add(a);
                    held.add(c);
                    GemmOp op = GemmOp.of(Layout.ROW_MAJOR, 8, 8, 8, 1, a, a, 0, c);
                    tasks.add(() -> {
                        for (int call = 0; call < 200; call++) {
                            boolean seen = !other.health(d).dispatchable();
                            try {
                                other.gemm(op);
                                fail("a launch on a device that fails every launch succeeded");
                            } catch (DeviceException e) {
                                boolean refused = e.nativeName().equals("QUARANTINED");
                                if (seen) {
                                    assertTrue(refused, "a call made after its caller saw " + d.id() + " quarantined reached it: " + e);
                                    if (refusedAfterSeen.incrementAndGet() >= 8 * threads) {
                                        return;
                                    }
                                } else if (!refused) {
                                    reached.incrementAndGet();
                                }
                            }
                        }
                    });
                }
                List<Throwable> outcomes = race(tasks);
                for (Throwable o : outcomes) {
                    if (o != null) {
                        throw new AssertionError("round " + round + ": " + o.getMessage(), o);
                    }
                }
                assertEquals(HealthState.QUARANTINED, other.health(d), "a device failing every launch ends quarantined");
                assertTrue(reached.get() >= failures, "the failures that quarantined it were launches: " + reached.get());
                assertTrue(reached.get() <= failures + threads - 1,
                        "after the flip at most one launch per other thread may still reach the device; reached " + reached.get());
                assertTrue(announced.await(10, TimeUnit.SECONDS), "the quarantine was announced");
                subscription.close();
                assertEquals(1, quarantines.size(), "one quarantine, one event: " + quarantines);
                held.forEach(DeviceBuffer::close);
            }
        }
    }

    // ---------------------------------------------------------------- R18d: registration racing devices()

    @Tag("R18")
    @Tag("lifetime")
    @Test
    default void bridgesOpeningWhileOthersListDevicesAreSeenWholeOrClosed() {
        List<String> expected = bridge().devices().stream().map(Device::id).toList();
        AtomicReference<KernelBridge> current = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        AtomicInteger seenWhole = new AtomicInteger();
        int opens = 6 * stress();
        List<Runnable> tasks = new ArrayList<>();
        tasks.add(() -> {
            try {
                for (int i = 0; i < opens; i++) {
                    KernelBridge b = KernelBridge.open(config(), providers());
                    KernelBridge old = current.getAndSet(b);
                    if (old != null) {
                        old.close();
                    }
                }
                current.getAndSet(null).close();
            } finally {
                done.set(true);
            }
        });
        for (int r = 0; r < 3; r++) {
            tasks.add(() -> {
                while (!done.get()) {
                    KernelBridge b = current.get();
                    if (b == null) {
                        Thread.onSpinWait();
                        continue;
                    }
                    try {
                        List<Device> ds = b.devices();
                        assertEquals(expected, ds.stream().map(Device::id).toList(), "devices of a bridge being opened or closed");
                        for (Device x : ds) {
                            assertFalse(x.dtypes().isEmpty(), x.id() + " listed without its types");
                            assertTrue(b.health(x) != null, x.id() + " listed without a health state");
                        }
                        seenWhole.incrementAndGet();
                    } catch (IllegalStateException closed) {
                        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
                    }
                }
            });
        }
        // Bridges opened at the same moment discover the same devices.
        for (int r = 0; r < 2; r++) {
            tasks.add(() -> {
                try (KernelBridge b = KernelBridge.open(config(), providers())) {
                    assertEquals(expected, b.devices().stream().map(Device::id).toList(), "devices of a bridge opened concurrently");
                }
            });
        }
        List<Throwable> outcomes = race(tasks);
        for (Throwable o : outcomes) {
            if (o != null) {
                throw new AssertionError(o.getMessage(), o);
            }
        }
        assertTrue(seenWhole.get() > 0 || opens > 0, "listing threads ran");
    }

    // ---------------------------------------------------------------- R19: use after close, in-flight close

    @Tag("R19")
    @Tag("lifetime")
    @Test
    default void closingABufferThatACallHoldsWaitsForTheCall() throws Exception {
        DType dtype = hostType();
        int m = 96, n = 80, k = 128;
        List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
        // A slow launch (injected latency) holds the window open in which a close that did not wait would free A.
        Config slow = config().with(Config.FAULTS, deviceId() + "=latency:20ms");
        try (Arena arena = Arena.ofShared(); KernelBridge other = KernelBridge.open(slow, counted)) {
            Device d = other.device(deviceId());
            HostCase data = HostCase.of(arena, dtype, m, n, k, 5);
            for (int round = 0; round < 4 * stress(); round++) {
                long launched = counted.stream().mapToLong(c -> c.gemmLaunches.get()).sum();
                DeviceBuffer a = other.allocate(d, dtype, (long) m * k).copyFrom(0, data.a());
                try (DeviceBuffer b = other.allocate(d, dtype, (long) k * n).copyFrom(0, data.b());
                     DeviceBuffer c = other.allocate(d, dtype, (long) m * n)) {
                    CompletableFuture<Void> call = other.gemmAsync(
                            GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).alpha(1).a(a, 0, m).b(b, 0, k).beta(0).c(c, 0, m).build());
                    a.close(); // the call took hold of A when gemmAsync returned: close must wait for its launch
                    long started = counted.stream().mapToLong(x -> x.gemmLaunches.get()).sum();
                    long ended = counted.stream().mapToLong(x -> x.gemmLaunchesEnded.get()).sum();
                    assertEquals(launched + 1, started, "close() of A returned before the launch that reads A had started");
                    assertEquals(started, ended, "close() of A returned while the launch that reads A was running");
                    call.get(1, TimeUnit.MINUTES);
                    MemorySegment got = arena.allocate((long) m * n * dtype.byteSize());
                    c.copyTo(0, got);
                    for (int i = 0; i < m * n; i++) {
                        assertEquals(data.expected()[i], get(dtype, got, i), "C[" + i + "] of the call close() waited for");
                    }
                    assertThrows(IllegalStateException.class, () -> a.copyTo(0, got.asSlice(0, dtype.byteSize())));
                }
            }
        }
    }

    @Tag("R19")
    @Tag("lifetime")
    @Test
    default void segmentsOfAClosedArenaAndHandlesOfAClosedBridgeAreIllegalState() {
        DType dtype = hostType();
        try (Arena kept = Arena.ofShared()) {
            HostCase live = HostCase.of(kept, dtype, 8, 8, 8, 3);
            Arena gone = Arena.ofConfined();
            MemorySegment dead = gone.allocate(64L * dtype.byteSize());
            gone.close();
            Blas blas = bridge().blas(Dispatch.pinned(device()));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> blas.gemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS,
                    Transpose.NO_TRANS, 8, 8, 8, 1, dtype, dead, 8, live.b(), 8, 0, dtype, live.c(), 8));
            assertTrue(e.getMessage().contains("a"), e.getMessage());
            assertTrue(live.cIsUntouched(), "a GEMM refused for a closed arena wrote C");
            try (DeviceBuffer buf = bridge().allocate(device(), dtype, 64)) {
                assertThrows(IllegalStateException.class, () -> buf.copyFrom(0, dead));
                assertThrows(IllegalStateException.class, () -> buf.copyTo(0, dead));
            }

            KernelBridge other = KernelBridge.open(config(), providers());
            Device d = other.device(deviceId());
            Blas before = other.blas(Dispatch.pinned(d));
            DeviceBuffer x = other.allocate(d, dtype, 64);
            other.close();
            other.close();
            assertThrows(IllegalStateException.class, () -> live.run(before), "a Blas of a closed bridge");
            assertTrue(live.cIsUntouched(), "a GEMM refused by a closed bridge wrote C");
            assertThrows(IllegalStateException.class, other::blas);
            assertThrows(IllegalStateException.class, () -> other.communicators(List.of(d)));
            assertThrows(IllegalStateException.class, () -> other.allocate(d, dtype, 1));
            assertThrows(IllegalStateException.class, () -> x.copyFrom(0, live.a()));
            assertThrows(IllegalStateException.class, () -> other.gemm(GemmOp.of(Layout.ROW_MAJOR, 8, 8, 8, 1, x, x, 0, x)));
        }
    }

    @Tag("R19")
    @Tag("lifetime")
    @Test
    default void closingASharedArenaWhileACallReadsItEndsInAResultOrIllegalState() {
        DType dtype = hostType();
        int completed = 0, refused = 0;
        for (int round = 0; round < 8 * stress(); round++) {
            try (Arena outputs = Arena.ofShared()) {
                Arena inputs = Arena.ofShared();
                HostCase hc = HostCase.of(inputs, dtype, 64, 64, 96, round);
                MemorySegment c = outputs.allocate(hc.c().byteSize());
                c.copyFrom(hc.c());
                HostCase outside = new HostCase(dtype, hc.m(), hc.n(), hc.k(), hc.a(), hc.b(), c, hc.expected());
                Blas blas = bridge().blas(Dispatch.pinned(device()));
                List<Throwable> outcomes = race(List.of(() -> outside.run(blas), inputs::close));
                Throwable closing = outcomes.get(1), call = outcomes.get(0);
                if (closing != null) {
                    // The JDK refuses to close a shared arena while a native call holds it: the call then completed.
                    assertTrue(closing instanceof IllegalStateException, "closing the arena threw " + closing);
                    inputs.close();
                }
                if (call == null) {
                    assertTrue(outside.cIsExact(), "round " + round + ": the call completed with a wrong C");
                    completed++;
                } else {
                    assertTrue(call instanceof IllegalStateException, "a call whose input arena closed threw " + call);
                    refused++;
                }
            }
        }
        reportFigures().put("closed-arena-vs-call completed/refused", completed + "/" + refused);
    }

    // ---------------------------------------------------------------- R20: confinement

    @Tag("R20")
    @Tag("lifetime")
    @Test
    default void confinedSegmentsWorkOnTheirOwnThreadAndAreRefusedOnAnother() throws Exception {
        DType dtype = hostType();
        Blas blas = bridge().blas(Dispatch.pinned(device()));
        try (Arena confined = Arena.ofConfined()) {
            HostCase hc = HostCase.of(confined, dtype, 24, 20, 16, 11);
            hc.run(blas);
            assertTrue(hc.cIsExact(), "a GEMM on segments confined to the calling thread");

            hc.resetC();
            CompletableFuture<Throwable> elsewhere = CompletableFuture.supplyAsync(() -> {
                try {
                    hc.run(blas);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            }, r -> Thread.ofPlatform().start(r));
            Throwable t = elsewhere.get(1, TimeUnit.MINUTES);
            assertTrue(t instanceof WrongThreadException, "a confined segment used from another thread: " + t);
            assertTrue(t.getMessage().contains("confined"), t.getMessage());
            assertTrue(hc.cIsUntouched(), "a GEMM refused for confinement wrote C");

            // The asynchronous grouped form runs elsewhere: a segment confined to this thread is refused at submission.
            Transpose[] nt = {Transpose.NO_TRANS};
            WrongThreadException w = assertThrows(WrongThreadException.class, () -> bridge().groupedGemm().with(Dispatch.pinned(device()))
                    .gemmBatchAsync(Layout.COLUMN_MAJOR, nt, nt, new long[] {hc.m()}, new long[] {hc.n()}, new long[] {hc.k()}, new double[] {1},
                            dtype, new MemorySegment[] {hc.a()}, new long[] {hc.m()}, new MemorySegment[] {hc.b()}, new long[] {hc.k()},
                            new double[] {0}, dtype, new MemorySegment[] {hc.c()}, new long[] {hc.m()}));
            assertTrue(w.getMessage().contains("confined"), w.getMessage());
            assertTrue(hc.cIsUntouched(), "an async call refused for confinement wrote C");
        }
    }

    /** Unwraps what a future failed with. */
    static Throwable cause(ExecutionException e) {
        return e.getCause() == null ? e : e.getCause();
    }
}
