package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.tck.LifecycleConformance.HostCase;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Soak, sustained load at high memory and error-path leaks (RELIABILITY.md R23, R24, R26, R38). Sizes are data: the normal run is short
 * (seconds); the nightly job ({@code ci/soak}) raises {@code kernelbridge.test.soak.gemms} to 10^6 and
 * {@code kernelbridge.test.soak.cycles} to 10^4 and runs the JVM with
 * {@code -XX:NativeMemoryTracking=summary}, which this area then reads through {@code jcmd}.
 *
 * <p>What is sampled and must come back to its baseline (or stay within a small bound): the bridge's
 * ledger ({@link KernelBridge#allocatedBytes()}), the device-side ledger of
 * {@link CountingBackendProvider} (every buffer the backend allocated, the dispatcher's staging
 * included), the JVM's live thread count, this process's open file descriptors
 * ({@code /proc/self/fd}), and, with NMT on, the JVM's committed native memory outside the Java heap and
 * the GC structures that follow its size. OpenCL has no
 * standard free-memory query, so device memory is known through the ledgers only.
 */
public interface SoakConformance extends KitContext {

    static long soakGemms() { return Long.getLong("kernelbridge.test.soak.gemms", 3_000); }

    static long soakCycles() { return Long.getLong("kernelbridge.test.soak.cycles", 40); }

    /** What the process holds right now. */
    record Sample(long bridgeBytes, long deviceBuffers, int threads, int fds, long nmtCommittedKb) {
        static Sample take(KernelBridge bridge, List<CountingBackendProvider> counted) {
            return new Sample(bridge.allocatedBytes(), counted.stream().mapToLong(c -> c.liveBuffers.get()).sum(),
                    ManagementFactory.getThreadMXBean().getThreadCount(), openFds(), Nmt.committedKb());
        }
    }

    static int openFds() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        } catch (IOException | RuntimeException e) {
            return -1; // not Linux: not sampled
        }
    }

    /** Native Memory Tracking of this JVM through {@code jcmd}, when the JVM runs with it. */
    final class Nmt {
        private static final Pattern TOTAL = Pattern.compile("Total: reserved=(\\d+)KB[^,]*, committed=(\\d+)KB");
        /** Categories that follow the Java heap's size, which the GC grows and shrinks at will: not a leak of ours. */
        private static final Pattern HEAP_SIZED = Pattern.compile("-\\s+(Java Heap|GC) \\(reserved=\\d+KB, committed=(\\d+)KB");

        private Nmt() { }

        static boolean on() {
            return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                    .anyMatch(a -> a.startsWith("-XX:NativeMemoryTracking=") && !a.endsWith("=off"));
        }

        /**
         * Committed KB now outside the Java heap and the GC's own structures (which track the heap's
         * size: a soak that allocates arrays makes the GC grow them without anything leaking), or -1
         * without NMT. What remains is where a native leak of ours would show: "Other" (FFM arenas),
         * "Internal", "Thread", the JIT's and the class loader's memory.
         */
        static long committedKb() {
            if (!on()) {
                return -1;
            }
            String summary = jcmd("VM.native_memory", "summary");
            Matcher m = TOTAL.matcher(summary);
            if (!m.find()) {
                return -1;
            }
            long kb = Long.parseLong(m.group(2));
            Matcher heap = HEAP_SIZED.matcher(summary);
            while (heap.find()) {
                kb -= Long.parseLong(heap.group(2));
            }
            return kb;
        }

        static String jcmd(String... command) {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            List<String> cmd = new ArrayList<>(List.of(jcmd.toString(), String.valueOf(ProcessHandle.current().pid())));
            cmd.addAll(List.of(command));
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor(60, TimeUnit.SECONDS);
                return out;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    /** Waits (bounded) for pool threads to wind down, then asserts the sample is back within bounds of the baseline. */
    static void assertFlat(String when, Sample baseline, KernelBridge bridge, List<CountingBackendProvider> counted, java.util.Map<String, Object> figures)
            throws InterruptedException {
        Sample now = Sample.take(bridge, counted);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((now.threads() > baseline.threads() + 4 || now.fds() > baseline.fds() + 8) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            now = Sample.take(bridge, counted);
        }
        figures.put("soak " + when, "baseline " + baseline + ", end " + now);
        assertEquals(baseline.bridgeBytes(), now.bridgeBytes(), when + ": the bridge's ledger");
        assertEquals(baseline.deviceBuffers(), now.deviceBuffers(), when + ": buffers the backend still holds");
        assertTrue(now.threads() <= baseline.threads() + 4, when + ": threads " + now.threads() + ", baseline " + baseline.threads());
        assertTrue(now.fds() <= baseline.fds() + 8, when + ": open file descriptors " + now.fds() + ", baseline " + baseline.fds());
        if (baseline.nmtCommittedKb() >= 0) {
            // Bounded, not zero: the JIT, metaspace and GC structures still settle after the warm-up.
            long growth = now.nmtCommittedKb() - baseline.nmtCommittedKb();
            System.getLogger("dev.kernelbridge.tck").log(System.Logger.Level.INFO, "NMT committed growth over {0}: {1} KB\n{2}", when, growth,
                    Nmt.jcmd("VM.native_memory", "summary.diff"));
            assertTrue(growth < 96 * 1024, when + ": native memory committed grew by " + growth + " KB");
        }
    }

    // ---------------------------------------------------------------- R23: mixed GEMMs and open/close cycles

    @Tag("R23")
    @Tag("R38")
    @Tag("lifetime")
    @Test
    default void mixedGemmsAndOpenCloseCyclesLeaveNothingBehind() throws Exception {
        DType dtype = firstDtype();
        List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
        try (KernelBridge soak = KernelBridge.open(config(), counted); Arena arena = Arena.ofShared()) {
            Device d = soak.device(deviceId());
            int[] sizes = {1, 3, 8, 17, 33};
            List<HostCase> cases = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                cases.add(HostCase.of(arena, dtype, sizes[i], sizes[(i + 2) % sizes.length], sizes[(i + 4) % sizes.length], i));
            }
            Blas pinned = soak.blas(Dispatch.pinned(d));
            Blas any = soak.blas();
            long gemms = soakGemms(), cycles = soakCycles(), warmUp = Math.min(200, gemms / 10);
            Sample baseline = null;
            long verified = 0;
            for (long i = 0; i < gemms; i++) {
                if (i == warmUp) {
                    System.gc();
                    baseline = Sample.take(soak, counted);
                }
                HostCase hc = cases.get((int) (i % cases.size()));
                switch ((int) (i % 3)) {
                    case 0 -> hc.run(pinned);
                    case 1 -> hc.run(any);
                    default -> onDevice(soak, d, hc, arena);
                }
                if (i % 97 == 0) {
                    assertTrue(hc.cIsExact(), "GEMM " + i + " of the soak");
                    verified++;
                }
            }
            if (baseline == null) {
                baseline = Sample.take(soak, counted);
            }
            for (long cycle = 0; cycle < cycles; cycle++) {
                openUseAndClose(cycle);
            }
            System.gc();
            assertFlat(gemms + " GEMMs (" + verified + " verified) and " + cycles + " open/close cycles", baseline, soak, counted, reportFigures());
        }
    }

    /** A GEMM on device buffers of the soak's bridge, allocated and freed around it. */
    private static void onDevice(KernelBridge bridge, Device d, HostCase hc, Arena arena) {
        try (DeviceBuffer a = bridge.allocate(d, hc.dtype(), (long) hc.m() * hc.k()).copyFrom(0, hc.a());
             DeviceBuffer b = bridge.allocate(d, hc.dtype(), (long) hc.k() * hc.n()).copyFrom(0, hc.b());
             DeviceBuffer c = bridge.allocate(d, hc.dtype(), (long) hc.m() * hc.n())) {
            bridge.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(hc.m(), hc.n(), hc.k()).alpha(1)
                    .a(a, 0, hc.m()).b(b, 0, hc.k()).beta(0).c(c, 0, hc.m()).build());
            c.copyTo(0, hc.c());
        }
    }

    /** One cycle: a bridge opened, buffers allocated and copied, a two-rank all-reduce, everything closed. */
    private void openUseAndClose(long cycle) {
        DType dtype = firstDtype();
        try (KernelBridge b = KernelBridge.open(config(), providers())) {
            Device d = b.device(deviceId());
            List<Communicator> comms = b.communicators(List.of(d, d));
            try (DeviceBuffer x = b.allocate(d, dtype, 32); DeviceBuffer y = b.allocate(d, dtype, 32)) {
                MemorySegment ones = Arena.ofAuto().allocate(32L * dtype.byteSize());
                for (int i = 0; i < 32; i++) {
                    LifecycleConformance.put(dtype, ones, i, 1 + cycle % 5);
                }
                x.copyFrom(0, ones);
                y.copyFrom(0, ones);
                List<DeviceBuffer> bufs = List.of(x, y);
                CollectiveConformance.onAllRanks(comms, c -> c.allReduceAsync(bufs.get(c.rank()), bufs.get(c.rank()), 32, ReduceOp.SUM,
                        Duration.ofSeconds(60)));
                x.copyTo(0, ones);
                assertEquals(2.0 * (1 + cycle % 5), LifecycleConformance.get(dtype, ones, 31), "all-reduce of cycle " + cycle);
            } finally {
                comms.forEach(Communicator::close);
            }
        }
    }

    // ---------------------------------------------------------------- R38: communicator churn, two groups at once

    @Tag("R38")
    @Tag("collectives")
    @Test
    default void communicatorChurnAndTwoGroupsUsedAtOnceFromTheirOwnThreads() throws Exception {
        DType dtype = firstDtype();
        List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
        try (KernelBridge b = KernelBridge.open(config(), counted)) {
            Device d = b.device(deviceId());
            Sample baseline = null;
            for (int i = 0; i < 1000; i++) {
                if (i == 50) {
                    baseline = Sample.take(b, counted);
                }
                List<Communicator> comms = b.communicators(List.of(d, d));
                if (i % 50 == 0) {
                    try (DeviceBuffer x = b.allocate(d, dtype, 8); DeviceBuffer y = b.allocate(d, dtype, 8)) {
                        List<DeviceBuffer> bufs = List.of(x, y);
                        CollectiveConformance.onAllRanks(comms, c -> c.allReduceAsync(bufs.get(c.rank()), bufs.get(c.rank()), 8, ReduceOp.SUM,
                                Duration.ofSeconds(60)));
                    }
                }
                comms.forEach(Communicator::close);
            }

            // Two groups, each driven by its own two threads, at the same time: neither sees the other's data.
            List<List<Communicator>> groups = List.of(b.communicators(List.of(d, d)), b.communicators(List.of(d, d)));
            int rounds = 50;
            List<CompletableFuture<Void>> drivers = new ArrayList<>();
            for (int g = 0; g < 2; g++) {
                for (Communicator c : groups.get(g)) {
                    double value = 10 * (g + 1) + c.rank();
                    drivers.add(CompletableFuture.runAsync(() -> {
                        MemorySegment host = Arena.ofAuto().allocate(16L * dtype.byteSize());
                        try (DeviceBuffer buf = b.allocate(d, dtype, 16)) {
                            for (int r = 0; r < rounds; r++) {
                                for (int i = 0; i < 16; i++) {
                                    LifecycleConformance.put(dtype, host, i, value + r);
                                }
                                buf.copyFrom(0, host);
                                c.allReduce(buf, buf, 16, ReduceOp.SUM);
                                buf.copyTo(0, host);
                                double want = (10 * (g(value) + 1) + 0 + r) + (10 * (g(value) + 1) + 1 + r);
                                assertEquals(want, LifecycleConformance.get(dtype, host, 15), "group of rank value " + value + ", round " + r);
                            }
                        }
                    }, runnable -> Thread.ofPlatform().start(runnable)));
                }
            }
            CompletableFuture.allOf(drivers.toArray(CompletableFuture[]::new)).get(2, TimeUnit.MINUTES);
            groups.forEach(gr -> gr.forEach(Communicator::close));
            System.gc();
            assertFlat("1000 communicator groups and two concurrent groups", baseline, b, counted, reportFigures());
        }
    }

    /** The group index a driver's value belongs to (values are 10·(g+1) + rank). */
    private static int g(double value) { return (int) (value / 10) - 1; }

    // ---------------------------------------------------------------- R26: sustained load at 90% of device memory

    /** How long the R26 soak runs (ISO-8601, {@code kernelbridge.test.soak.duration}); the nightly job runs an hour. */
    static Duration soakDuration() { return Duration.parse(System.getProperty("kernelbridge.test.soak.duration", "PT4S")); }

    /**
     * The device memory the R26 soak fills to 90%: {@code kernelbridge.test.soak.memory} bytes (192 MiB
     * in ci/test), or {@code device} for all the device states it has; never more than that.
     */
    static long soakMemory(Device d) {
        String v = System.getProperty("kernelbridge.test.soak.memory", String.valueOf(192L << 20));
        long budget = v.equals("device") ? d.memoryBytes() : Long.parseLong(v);
        return d.memoryBytes() > 0 ? Math.min(budget, d.memoryBytes()) : budget;
    }

    /**
     * R26: resident GEMM operands fill 90% of the device's memory (as {@link #soakMemory} states it),
     * then, for {@link #soakDuration}, GEMMs on random operands, all-reduces and buffer churn run at that
     * level; every 7th GEMM is verified by a random projection (C·x against alpha·A·(B·x), O(n²)),
     * exactly, since the operands are small integers, and every all-reduce exactly. Zero verification
     * failures; the ledgers, threads, descriptors and native memory flat from the warm-up to the end.
     */
    @Tag("R26")
    @Tag("lifetime")
    @Test
    default void sustainedLoadAtNinetyPercentOfDeviceMemoryWithSampledVerification() throws Exception {
        requireDeclared(DType.F32);
        int n = 256;
        long matrixBytes = (long) n * n * 4;
        List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
        try (KernelBridge soak = KernelBridge.open(config(), counted)) {
            Device d = soak.device(deviceId());
            long memory = soakMemory(d), target = memory / 10 * 9, before = soak.allocatedBytes();
            List<Communicator> comms = soak.communicators(List.of(d, d));
            List<DeviceBuffer> ranks = List.of(soak.allocate(d, DType.F32, 4096), soak.allocate(d, DType.F32, 4096));
            List<DeviceBuffer[]> slots = new ArrayList<>();
            while (soak.allocatedBytes() - before < target) {
                int seed = slots.size();
                slots.add(new DeviceBuffer[] {soak.allocate(d, DType.F32, (long) n * n).copyFrom(operand(seed, 0, n)),
                        soak.allocate(d, DType.F32, (long) n * n).copyFrom(operand(seed, 1, n)), soak.allocate(d, DType.F32, (long) n * n)});
            }
            long filled = soak.allocatedBytes() - before;
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(26);
            long end = System.nanoTime() + soakDuration().toNanos(), gemms = 0, verified = 0, reductions = 0;
            Sample baseline = null;
            for (long round = 0; round < 60 || System.nanoTime() - end < 0; round++) {
                if (round == 20) {
                    System.gc();
                    baseline = Sample.take(soak, counted);
                }
                int slot = rnd.nextInt(slots.size());
                DeviceBuffer[] abc = slots.get(slot);
                float alpha = new float[] {1, 2, -1}[rnd.nextInt(3)];
                soak.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(n, n, n).alpha(alpha)
                        .a(abc[0], 0, n).b(abc[1], 0, n).beta(0).c(abc[2], 0, n).build());
                gemms++;
                if (round % 7 == 0) {
                    assertProjectionHolds(abc[2].toFloatArray(), slot, alpha, n, rnd.nextLong(), "GEMM " + gemms + " on slot " + slot);
                    verified++;
                }
                if (round % 5 == 0) {
                    int value = (int) (round % 100);
                    for (int r = 0; r < 2; r++) {
                        float[] x = new float[4096];
                        java.util.Arrays.fill(x, value + r);
                        ranks.get(r).copyFrom(x);
                    }
                    CollectiveConformance.onAllRanks(comms, c -> c.allReduceAsync(ranks.get(c.rank()), ranks.get(c.rank()), 4096, ReduceOp.SUM,
                            Duration.ofSeconds(60)));
                    float[] got = ranks.get(1).toFloatArray();
                    assertEquals(2 * value + 1, got[4095], "all-reduce of round " + round);
                    reductions++;
                }
                if (round % 11 == 0) { // churn at the high-water mark: one more operand's worth, freed at once
                    try (DeviceBuffer extra = soak.allocate(d, DType.F32, (long) n * n)) {
                        extra.copyFrom(operand(round, 2, n));
                    }
                }
            }
            System.gc();
            assertFlat("R26: " + gemms + " GEMMs at " + filled + " of " + memory + " bytes", baseline, soak, counted, reportFigures());
            reportFigures().put("R26 sustained load", String.format(java.util.Locale.ROOT,
                    "%d GEMMs (%d verified by projection, 0 failed), %d all-reduces, %d of %d bytes resident (%.1f%%), %s",
                    gemms, verified, reductions, filled, memory, 100.0 * filled / memory, soakDuration()));
            assertTrue(filled >= target && filled < memory, "the soak must fill 90% of " + memory + " bytes, filled " + filled);
            comms.forEach(Communicator::close);
            ranks.forEach(DeviceBuffer::close);
            for (DeviceBuffer[] abc : slots) {
                for (DeviceBuffer b : abc) {
                    b.close();
                }
            }
            assertEquals(before, soak.allocatedBytes(), "the ledger after the soak's buffers are freed");
        }
    }

    /** Operand {@code which} (0: A, 1: B, 2: scratch) of slot {@code seed}: n×n small integers in [-2, 2], exact in every sum. */
    private static float[] operand(long seed, int which, int n) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed * 3 + which);
        float[] m = new float[n * n];
        for (int i = 0; i < m.length; i++) {
            m[i] = r.nextInt(5) - 2;
        }
        return m;
    }

    /** C·x == alpha·A·(B·x) for a random x of ±1, in exact integer arithmetic (column-major n×n). */
    private static void assertProjectionHolds(float[] c, int slot, float alpha, int n, long seed, String what) {
        float[] a = operand(slot, 0, n), b = operand(slot, 1, n);
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        long[] x = new long[n];
        for (int j = 0; j < n; j++) {
            x[j] = r.nextBoolean() ? 1 : -1;
        }
        long[] bx = new long[n], cx = new long[n], abx = new long[n];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < n; i++) {
                bx[i] += (long) b[i + j * n] * x[j];
                cx[i] += (long) c[i + j * n] * x[j];
            }
        }
        for (int l = 0; l < n; l++) {
            for (int i = 0; i < n; i++) {
                abx[i] += (long) a[i + l * n] * bx[l];
            }
        }
        for (int i = 0; i < n; i++) {
            if (cx[i] != (long) alpha * abx[i]) {
                fail("silent data corruption in " + what + ": row " + i + " of C·x is " + cx[i] + ", alpha·A·(B·x) is " + (long) alpha * abx[i]);
            }
        }
    }

    // ---------------------------------------------------------------- R24: every error path

    @Tag("R24")
    @Tag("faults")
    @Test
    default void failingEveryDeviceCallInTurnLeavesNothingBehindAndTheNextCallWorks() throws Exception {
        DType dtype = firstDtype();
        int swept = 0;
        try (Arena arena = Arena.ofShared()) {
            for (String kind : List.of("oom", "allocation", "resources", "launch")) {
                for (int call = 1; ; call++) {
                    List<CountingBackendProvider> counted = providers().stream().map(CountingBackendProvider::new).toList();
                    Config faulty = config().with(Config.FAULTS, deviceId() + "=fail-call:" + call + ",as:" + kind)
                            .with(Config.HEALTH_FAILURES, "1000").with(Config.HEALTH_PROBE, "1h");
                    boolean failed;
                    try (KernelBridge b = KernelBridge.open(faulty, counted)) {
                        Device d = b.device(deviceId());
                        long bytes = b.allocatedBytes();
                        HostCase host = HostCase.of(arena, dtype, 12, 10, 9, call);
                        HostCase onDevice = HostCase.of(arena, dtype, 9, 12, 10, call + 100);
                        String what = kind + " at device call " + call;
                        // Everything one user step does: a host GEMM without failover, then device buffers and a GEMM on them.
                        failed = !attempt(what, host, () -> host.run(b.blas(Dispatch.pinned(d).withFallback(false))), true)
                                | !attempt(what, onDevice, () -> onDevice(b, d, onDevice, arena), false);
                        assertEquals(bytes, b.allocatedBytes(), what + ": the bridge's ledger");
                        assertEquals(0, counted.stream().mapToLong(c -> c.liveBuffers.get()).sum(), what + ": device buffers still held");
                        if (failed) { // the fault was injected once: the same steps now work
                            host.resetC();
                            host.run(b.blas(Dispatch.pinned(d).withFallback(false)));
                            assertTrue(host.cIsExact(), what + ": the next host GEMM");
                            onDevice.resetC();
                            onDevice(b, d, onDevice, arena);
                            assertTrue(onDevice.cIsExact(), what + ": the next device GEMM");
                        }
                    }
                    assertEquals(0, counted.stream().mapToLong(c -> c.doubleReleases.get()).sum(), "buffers released twice");
                    swept++;
                    if (!failed) {
                        break; // the call number lies past every device call of the steps: each path has failed once
                    }
                    assertTrue(call < 64, "the steps keep failing: fail-call is not counting device calls");
                }
            }
        }
        reportFigures().put("error paths swept", swept);
    }

    /** Runs one step; true when it completed (C exact), false when it failed as a typed DeviceException with C untouched. */
    private static boolean attempt(String what, HostCase hc, Runnable step, boolean hostC) {
        try {
            step.run();
            assertTrue(hc.cIsExact(), what + ": a step that completed");
            return true;
        } catch (DeviceException e) {
            if (what.startsWith("oom") || what.startsWith("allocation")) {
                if (e.nativeName().contains("OUT_OF_MEMORY") || e.nativeName().contains("ALLOCATION")) {
                    assertInstanceOf(DeviceOutOfMemoryException.class, e, what);
                }
            }
            assertTrue(e.nativeName().startsWith("INJECTED_"), what + ": failed with something not injected: " + e);
            // C is the caller's host memory (host GEMM) or the host copy made after a device GEMM: either way not written.
            assertTrue(hc.cIsUntouched(), what + ": C was written by a step that failed" + (hostC ? "" : " (device path)"));
            return false;
        } catch (RuntimeException e) {
            fail(what + ": not a typed DeviceException: " + e, e);
            return false;
        }
    }
}
