package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.DeviceTimeoutException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.Metrics;
import dev.kernelbridge.events.BackendSelectedEvent;
import dev.kernelbridge.events.KernelLaunchEvent;
import dev.kernelbridge.events.TransferEvent;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Places GEMMs on the devices of one bridge: chooses (PINNED, FASTEST, SPLIT), runs each attempt
 * under a deadline, files the outcome with the device's {@link Health}, re-runs failed work on the
 * next healthy device (the CPU last), optionally checks a tile on a second device, and only then
 * writes the caller's C. Thread-safe.
 *
 * <p>Every attempt except one on the built-in CPU writes into memory of its own, so that a failed,
 * late or corrupt attempt never touches C; an attempt that misses its deadline is abandoned (its
 * thread is interrupted, its memory freed when it returns). The built-in CPU backend is pure Java
 * with nothing to hang on, so a single-device CPU run works on C in place on the caller's thread.
 */
public final class Scheduler implements AutoCloseable {
    /** A thread that never runs: a segment it cannot access is confined to some thread. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> { });
    private static final int EXPLORE_EVERY = 64;
    private static final int SPLIT_REVISIT = 32;
    private static final Duration PROBE_DEADLINE = Duration.ofSeconds(30);

    /** A device as the scheduler sees it. {@code trusted}: the built-in CPU (runs inline, cannot hang). */
    public static final class Node {
        final String id;
        final BackendDevice spi;
        final boolean trusted;
        final boolean cpu;
        final Health health;
        /** Launches running on the device now: a launch that shared it does not measure its throughput. */
        final AtomicInteger busy = new AtomicInteger();

        Node(String id, BackendDevice spi, boolean trusted, boolean cpu, Health health) {
            this.id = id;
            this.spi = spi;
            this.trusted = trusted;
            this.cpu = cpu;
            this.health = health;
        }

        @Override
        public String toString() { return id; }
    }

    /** What the bridge tells the scheduler about one device. */
    public record DeviceEntry(String id, BackendDevice spi, boolean builtInCpu, boolean cpu) { }

    /** Per shape class: calls seen, and what splitting achieved. */
    private static final class ClassStats {
        final AtomicLong calls = new AtomicLong();
        double splitGflops;
        int splitSamples;
        final Map<String, Double> partGflops = new HashMap<>();
    }

    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Node> byId = new HashMap<>();
    private final Telemetry telemetry;
    private final double canaryRate;
    private final int canaryTile;
    private final Map<Long, ClassStats> classes = new ConcurrentHashMap<>();
    private final Set<Attempt> abandoned = ConcurrentHashMap.newKeySet();
    private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "kernelbridge-dispatch");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong canaryCounter = new AtomicLong();
    /** Looks for quarantined devices whose probe is due, so they return without waiting for traffic. */
    private final java.util.concurrent.ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kernelbridge-health");
        t.setDaemon(true);
        return t;
    });

    public Scheduler(List<DeviceEntry> devices, Telemetry telemetry, int failuresToQuarantine, Duration firstProbe,
                     double canaryRate, int canaryTile) {
        this.telemetry = telemetry;
        this.canaryRate = canaryRate;
        this.canaryTile = canaryTile;
        for (DeviceEntry d : devices) {
            Node node = new Node(d.id(), d.spi(), d.builtInCpu(), d.cpu(), new Health(d.id(), telemetry, failuresToQuarantine, firstProbe));
            nodes.add(node);
            byId.put(d.id(), node);
        }
        long tick = Math.clamp(firstProbe.toMillis() / 2, 20, 1000);
        prober.scheduleWithFixedDelay(this::startDueProbes, tick, tick, TimeUnit.MILLISECONDS);
    }

    // ---------------------------------------------------------------------------------------------
    // Host-memory GEMMs: placed by policy, failed work re-run elsewhere.

    /** Runs {@code job} as {@code dispatch} says; returns when the caller's C holds the correct result. */
    public void run(HostGemm job, Dispatch dispatch) {
        telemetry.operations.incrementAndGet();
        startDueProbes();
        long cls = job.shapeClass();
        List<Node> candidates = candidates(job.dtype(), dispatch.devices());
        boolean canary = sampleCanary();
        List<Part> plan = switch (dispatch.policy()) {
            case PINNED -> List.of(new Part(job, pinned(dispatch, job, cls)));
            case FASTEST -> List.of(new Part(job, fastest(candidates.isEmpty() ? candidates(job.dtype(), List.of()) : candidates, cls)));
            case SPLIT -> split(job, candidates.isEmpty() ? candidates(job.dtype(), List.of()) : candidates, cls, dispatch.splitsAlways());
        };
        selected(job, dispatch, plan);
        if (plan.size() == 1 && plan.getFirst().node.trusted && !canary && inPlaceOk(job)) {
            runInPlace(plan.getFirst().node, job, cls);
            return;
        }
        if (plan.size() > 1) {
            telemetry.splits.incrementAndGet();
        }
        long start = System.nanoTime();
        List<Done> done = new ArrayList<>();
        try {
            execute(job, plan, dispatch, done, canary);
            if (canary) {
                canary(job, done, dispatch);
            }
            for (Done d : done) {
                d.writeBack();
            }
        } finally {
            done.forEach(Done::release);
        }
        if (plan.size() > 1) {
            recordSplit(cls, job.flops(), System.nanoTime() - start, done);
        }
    }

    /** One piece of a job and the device it starts on. */
    private record Part(HostGemm gemm, Node node) { }

    /** A finished piece: its result laid out like C from element 0, held until written back (null: already in C). */
    private record Done(HostGemm part, Node node, MemorySegment result, Attempt owner, long nanos) {
        void release() {
            if (owner != null) {
                owner.release();
            }
        }

        void writeBack() {
            if (result != null) {
                part.writeBack(result);
            }
        }
    }

    /** Starts every piece (devices in parallel, the built-in CPU's on this thread), then collects them. */
    private void execute(HostGemm job, List<Part> plan, Dispatch dispatch, List<Done> done, boolean canary) {
        Attempt[] started = new Attempt[plan.size()];
        int collected = 0;
        try {
            for (int i = 0; i < plan.size(); i++) {
                if (!plan.get(i).node.trusted) {
                    started[i] = startOnWorker(plan.get(i).node, plan.get(i).gemm);
                }
            }
            for (int i = 0; i < plan.size(); i++) {
                if (plan.get(i).node.trusted) {
                    started[i] = runInline(plan.get(i).node, plan.get(i).gemm);
                }
            }
            boolean inPlace = plan.size() == 1 && !canary && inPlaceOk(job);
            for (; collected < plan.size(); collected++) {
                Part p = plan.get(collected);
                Attempt a = started[collected];
                started[collected] = null;
                done.add(finish(job, p.gemm, p.node, a, dispatch, new HashSet<>(List.of(p.node)), inPlace));
            }
        } finally {
            for (Attempt a : started) {
                if (a != null) {
                    a.release(); // a piece nobody will collect after a failure: its result is discarded
                }
            }
        }
    }

    /**
     * Waits for {@code attempt}; on failure re-runs the part on the next healthy device until one
     * succeeds. With {@code inPlace} (a whole job, nothing to check), the built-in CPU takes over on
     * C itself: it is the last resort and cannot fail half-way, and staging would cost a copy of C.
     */
    private Done finish(HostGemm job, HostGemm part, Node node, Attempt attempt, Dispatch dispatch, Set<Node> tried, boolean inPlace) {
        long cls = part.shapeClass();
        while (true) {
            Throwable failure = await(attempt, deadline(dispatch, part));
            if (failure == null) {
                // A piece of a split shares the machine with the other pieces: its time is not the
                // device's own throughput for this class (SPLIT keeps piece rates of its own).
                node.health.success(cls, part.flops(), part == job && attempt.alone ? attempt.nanos : 0);
                return new Done(part, node, attempt.result, attempt, attempt.nanos);
            }
            attempt.release();
            RuntimeException error = fileFailure(node, failure);
            if (!dispatch.fallback()) {
                throw error;
            }
            Node next = next(part.dtype(), tried, cls);
            if (next == null) {
                error.addSuppressed(new IllegalStateException("no other device can take " + part.describePart(job)
                        + " (tried " + tried + "; " + healthSummary() + ")"));
                throw error;
            }
            telemetry.failover(operation(job), part.describePart(job), node.id, next.id, String.valueOf(failure.getMessage()), attempt.nanos);
            node.health.failoverFrom();
            next.health.failoverTo();
            tried.add(next);
            node = next;
            if (next.trusted && inPlace) {
                long t0 = System.nanoTime();
                runInPlace(next, part, cls);
                return new Done(part, next, null, null, System.nanoTime() - t0);
            }
            attempt = next.trusted ? runInline(next, part) : startOnWorker(next, part);
        }
    }

    /** Files a failed attempt with the device's health; returns what the caller gets if nothing else works. */
    private static RuntimeException fileFailure(Node node, Throwable failure) {
        switch (failure) {
            case DeviceLostException e -> node.health.lost(e.getMessage());
            case DeviceTimeoutException e -> node.health.timeout(e.getMessage());
            case DeviceOutOfMemoryException e -> node.health.outOfMemory();
            case DeviceException e -> node.health.failure(e.getMessage());
            case UnsupportedOperationException e -> { } // this device cannot do this shape: not a fault
            default -> {
                return failure instanceof RuntimeException r ? r : new IllegalStateException("GEMM on " + node.id + " failed", failure);
            }
        }
        return (RuntimeException) failure;
    }

    // ---------------------------------------------------------------------------------------------
    // Choosing devices.

    /** Dispatchable devices that hold {@code dtype}, restricted to {@code ids} when given, in bridge order. */
    private List<Node> candidates(DType dtype, List<String> ids) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if ((ids.isEmpty() || ids.contains(n.id)) && n.health.dispatchable() && n.spi.info().dtypes().contains(dtype)) {
                out.add(n);
            }
        }
        return out;
    }

    /** The pinned device; when it cannot take work, the next healthy one (with an event) or, without fallback, an error. */
    private Node pinned(Dispatch dispatch, HostGemm job, long cls) {
        Node n = node(dispatch.devices().getFirst());
        if (n.health.dispatchable() && n.spi.info().dtypes().contains(job.dtype())) {
            return n;
        }
        String why = n.id + (n.health.dispatchable() ? " has no " + job.dtype().label() : " is " + n.health.state() + " (" + n.health.snapshot().reason() + ")");
        if (!dispatch.fallback()) {
            throw n.health.state() == HealthState.LOST ? new DeviceLostException(n.id, 0, "DEVICE_LOST", why, null)
                    : new DeviceException(n.id, 0, n.health.state().name(), why + "; fallback is forbidden");
        }
        Node next = next(job.dtype(), Set.of(n), cls);
        if (next != null) {
            telemetry.failover(operation(job), "whole", n.id, next.id, "pinned device unavailable: " + why, 0);
            n.health.failoverFrom();
            next.health.failoverTo();
        }
        return next;
    }

    /**
     * The device with the best live throughput for this class; a device not measured yet is tried
     * first (while idle: a launch that shares its device measures nothing), and every
     * {@value #EXPLORE_EVERY}th call re-measures the stalest so the choice follows change.
     */
    private Node fastest(List<Node> candidates, long cls) {
        if (candidates.isEmpty()) {
            return null;
        }
        long call = stats(cls).calls.incrementAndGet();
        for (Node n : candidates) {
            if (rate(n, cls) == 0 && n.busy.get() == 0) {
                return n; // measured only when it runs alone, so try it while it is idle
            }
        }
        if (call % EXPLORE_EVERY == 0) {
            return candidates.stream().min(Comparator.comparingLong(n -> n.health.lastMeasured(cls))).orElseThrow();
        }
        return best(candidates, cls);
    }

    private static Node best(List<Node> candidates, long cls) {
        Node best = null;
        for (Node n : candidates) {
            if (best == null || rank(n, cls) > rank(best, cls)) {
                best = n;
            }
        }
        return best;
    }

    /** Healthy before degraded, then throughput. */
    private static double rank(Node n, long cls) {
        return (n.health.state() == HealthState.HEALTHY ? 1e12 : 0) + rate(n, cls);
    }

    /** Measured throughput, else the tuning data's figure for the device, else 0 (unmeasured). */
    private static double rate(Node n, long cls) {
        double live = n.health.gflops(cls);
        return live > 0 ? live : n.spi.expectedGflops(DType.values()[(int) (cls >>> 16)]);
    }

    /** The next device for failed work: healthy ones by throughput, then degraded ones, the CPU last. */
    private Node next(DType dtype, Set<Node> tried, long cls) {
        Node best = null;
        for (Node n : candidates(dtype, List.of())) {
            if (tried.contains(n)) {
                continue;
            }
            if (best == null || (best.cpu && !n.cpu) || (best.cpu == n.cpu && rank(n, cls) > rank(best, cls))) {
                best = n;
            }
        }
        return best;
    }

    /**
     * One GEMM's rows, columns or batch items in proportion to each device's live throughput — or,
     * when splitting has measured slower than the best device alone (devices sharing cores), the best
     * device alone, with a split tried again every {@value #SPLIT_REVISIT} calls.
     */
    private List<Part> split(HostGemm job, List<Node> candidates, long cls, boolean always) {
        if (candidates.size() <= 1) {
            return List.of(new Part(job, candidates.isEmpty() ? null : candidates.getFirst()));
        }
        ClassStats s = stats(cls);
        long call = s.calls.incrementAndGet();
        if (always) {
            double[] weights = new double[candidates.size()];
            synchronized (s) {
                for (int i = 0; i < weights.length; i++) {
                    Node n = candidates.get(i);
                    double r = s.partGflops.getOrDefault(n.id, rate(n, cls));
                    weights[i] = r > 0 ? r : 1; // unmeasured devices start with equal shares
                }
            }
            double max = java.util.Arrays.stream(weights).max().orElse(1);
            for (int i = 0; i < weights.length; i++) {
                weights[i] = Math.max(weights[i], max / 20); // every device keeps a piece, however slow it measured
            }
            return cut(job, candidates, weights);
        }
        for (Node n : candidates) {
            if (rate(n, cls) == 0 && n.busy.get() == 0) {
                return List.of(new Part(job, n));
            }
        }
        Node best = best(candidates, cls);
        double[] weights = new double[candidates.size()];
        synchronized (s) {
            // Early on, a split is tried again every few calls: each try rebalances the pieces, so the
            // first (badly balanced) measurement must not decide for long.
            boolean revisit = call % (s.splitSamples < 4 ? 4 : SPLIT_REVISIT) == 0;
            boolean soloBetter = s.splitGflops > 0 && s.splitGflops < rate(best, cls);
            if (soloBetter != revisit) {
                return List.of(new Part(job, best));
            }
            for (int i = 0; i < weights.length; i++) {
                Node n = candidates.get(i);
                double w = s.partGflops.getOrDefault(n.id, rate(n, cls));
                weights[i] = w > 0 ? w : 1; // not measured yet (it was busy): an equal share to start
            }
        }
        return cut(job, candidates, weights);
    }

    /** Pieces along the batch, or the longer of C's dimensions, in multiples that keep kernels efficient. */
    private static List<Part> cut(HostGemm job, List<Node> nodes, double[] weights) {
        int kind;
        long total;
        if (job.batchCount() >= nodes.size() && job.batchCount() > 1) {
            kind = 0;
            total = job.batchCount();
        } else if (job.n() >= job.m()) {
            kind = 1;
            total = job.n();
        } else {
            kind = 2;
            total = job.m();
        }
        long align = kind == 0 ? 1 : total >= 64L * nodes.size() * 4 ? 64 : total >= 8L * nodes.size() ? 8 : 1;
        double sum = 0;
        for (double w : weights) {
            sum += w;
        }
        List<Part> parts = new ArrayList<>();
        long from = 0;
        double acc = 0;
        for (int i = 0; i < nodes.size(); i++) {
            acc += weights[i];
            long to = i == nodes.size() - 1 ? total : Math.min(total, Math.round(total * acc / sum / align) * align);
            if (to > from) {
                HostGemm g = kind == 0 ? job.batches(from, to) : kind == 1 ? job.columns(from, to) : job.rows(from, to);
                parts.add(new Part(g, nodes.get(i)));
                from = to;
            }
        }
        return parts;
    }

    private void recordSplit(long cls, double flops, long nanos, List<Done> done) {
        ClassStats s = stats(cls);
        synchronized (s) {
            double g = flops / Math.max(1, nanos);
            s.splitGflops = s.splitGflops == 0 ? g : 0.5 * s.splitGflops + 0.5 * g;
            s.splitSamples++;
            for (Done d : done) {
                double pg = d.part.flops() / Math.max(1, d.nanos);
                s.partGflops.merge(d.node.id, pg, (old, x) -> 0.5 * old + 0.5 * x);
            }
        }
    }

    private ClassStats stats(long cls) {
        return classes.computeIfAbsent(cls, x -> new ClassStats());
    }

    private Node node(String id) {
        Node n = byId.get(id);
        if (n == null) {
            throw new IllegalArgumentException("device must be one of " + byId.keySet() + ", got '" + id + "'");
        }
        return n;
    }

    // ---------------------------------------------------------------------------------------------
    // Attempts.

    /** One try of one piece on one device, owning the memory its result lands in. */
    private static final class Attempt {
        final Node node;
        final CompletableFuture<MemorySegment> done = new CompletableFuture<>();
        private volatile Arena arena;
        /** The worker and the caller; the last to let go frees the memory. */
        private final AtomicInteger holders = new AtomicInteger(2);
        final long startNanos = System.nanoTime();
        volatile Thread thread;
        volatile long nanos;
        volatile boolean alone;
        MemorySegment result;

        Attempt(Node node) { this.node = node; }

        /** Made on first use by the attempt's own thread: closing a shared arena costs a handshake with every thread. */
        Arena arena() {
            if (arena == null) {
                arena = Arena.ofShared();
            }
            return arena;
        }

        void release() {
            if (holders.decrementAndGet() == 0 && arena != null) {
                arena.close();
            }
        }
    }

    private Attempt startOnWorker(Node node, HostGemm part) {
        Attempt a = new Attempt(node);
        try {
            workers.execute(() -> perform(a, part));
        } catch (RuntimeException e) {
            a.done.completeExceptionally(e);
            a.release();
        }
        return a;
    }

    /** The built-in CPU, on the caller's thread, into memory of its own (it is one piece of several, or checked). */
    private Attempt runInline(Node node, HostGemm part) {
        Attempt a = new Attempt(node);
        perform(a, part);
        return a;
    }

    private void perform(Attempt a, HostGemm part) {
        a.thread = Thread.currentThread();
        try {
            a.result = compute(a.node, part, a);
            a.nanos = System.nanoTime() - a.startNanos;
            a.done.complete(a.result);
        } catch (Throwable t) {
            a.nanos = System.nanoTime() - a.startNanos;
            a.done.completeExceptionally(t);
        } finally {
            a.thread = null;
            abandoned.remove(a);
            Thread.interrupted(); // an abandoned attempt's interrupt must not leak into the next task
            a.release();
        }
    }

    /** Null on success; otherwise what went wrong, a missed deadline as {@link DeviceTimeoutException}. */
    private Throwable await(Attempt a, Duration deadline) {
        long left = deadline.toNanos() - (System.nanoTime() - a.startNanos);
        try {
            a.done.get(Math.max(0, left), TimeUnit.NANOSECONDS);
            return null;
        } catch (TimeoutException e) {
            a.nanos = System.nanoTime() - a.startNanos;
            abandoned.add(a);
            Thread t = a.thread;
            if (t != null) {
                t.interrupt();
            }
            return new DeviceTimeoutException(a.node.id, "no result within the deadline of " + deadline.toMillis() + " ms; attempt abandoned");
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            a.release();
            throw new IllegalStateException("interrupted while waiting for " + a.node.id, e);
        }
    }

    /** Auto: 10 s plus one second per GFLOP of the piece, so that no device's honest run is cut short. */
    private static Duration deadline(Dispatch dispatch, HostGemm part) {
        return dispatch.deadline().orElseGet(() -> Duration.ofMillis(10_000 + (long) (part.flops() / 1e6)));
    }

    /**
     * The piece on {@code node}, its result in {@code arena}: a device with its own memory gets copies
     * of the operands; a device on host memory works on copies too, except that the built-in CPU reads
     * A and B in place (it finishes before the caller returns).
     */
    private static MemorySegment compute(Node node, HostGemm part, Attempt attempt) {
        BackendDevice d = node.spi;
        Arena arena = attempt.arena();
        List<BackendBuffer> held = new ArrayList<>();
        try {
            if (d.sharesHostMemory()) {
                BackendBuffer a = hold(held, d.wrapHost(hostView(part.sliceA(), node.trusted, arena)));
                BackendBuffer b = hold(held, d.wrapHost(hostView(part.sliceB(), node.trusted, arena)));
                MemorySegment c = part.stageC(arena);
                BackendBuffer bc = hold(held, d.wrapHost(c));
                attempt.alone = launch(node, part.call(a, b, bc));
                return c;
            }
            BackendBuffer a = hold(held, upload(node, part.dtype(), part.sliceA(), true));
            BackendBuffer b = hold(held, upload(node, part.dtype(), part.sliceB(), true));
            BackendBuffer c = hold(held, upload(node, part.dtype(), part.sliceC(), part.beta() != 0));
            attempt.alone = launch(node, part.call(a, b, c));
            long bytes = part.spanC() * part.dtype().byteSize();
            MemorySegment result = arena.allocate(Math.max(1, bytes), 64);
            c.copyOut(0, result.asSlice(0, bytes));
            transfer(node, "device-to-host", bytes);
            return result;
        } finally {
            for (BackendBuffer b : held) {
                b.release();
            }
        }
    }

    private static BackendBuffer hold(List<BackendBuffer> held, BackendBuffer b) {
        held.add(b);
        return b;
    }

    private static BackendBuffer upload(Node node, DType dtype, MemorySegment host, boolean copy) {
        BackendBuffer buf = node.spi.allocate(dtype, Math.max(1, host.byteSize() / dtype.byteSize()));
        if (copy && host.byteSize() > 0) {
            buf.copyIn(0, host);
            transfer(node, "host-to-device", host.byteSize());
        }
        return buf;
    }

    private static MemorySegment hostView(MemorySegment slice, boolean trusted, Arena arena) {
        if (trusted && slice.isAccessibleBy(OTHER_THREAD)) {
            return slice;
        }
        MemorySegment copy = arena.allocate(Math.max(1, slice.byteSize()), 64).asSlice(0, slice.byteSize());
        copy.copyFrom(slice);
        return copy;
    }

    /** Runs the call; true when no other launch shared the device meanwhile (its time then measures the device). */
    private static boolean launch(Node node, GemmCall call) {
        KernelLaunchEvent e = new KernelLaunchEvent();
        e.begin();
        boolean ok = false;
        int before = node.busy.incrementAndGet();
        try {
            node.spi.gemm(call);
            ok = true;
        } finally {
            int after = node.busy.getAndDecrement();
            if (e.shouldCommit()) {
                e.device = node.id;
                e.dtype = call.dtype().label();
                e.m = call.m();
                e.n = call.n();
                e.k = call.k();
                e.batch = call.batchCount();
                e.success = ok;
                e.commit();
            }
            if (ok) {
                return before == 1 && after == 1;
            }
        }
        return false;
    }

    private static void transfer(Node node, String direction, long bytes) {
        TransferEvent e = new TransferEvent();
        if (e.shouldCommit()) {
            e.device = node.id;
            e.direction = direction;
            e.bytes = bytes;
            e.commit();
        }
    }

    private void selected(HostGemm job, Dispatch dispatch, List<Part> plan) {
        if (plan.getFirst().node == null) {
            throw new DeviceException("none", 0, "NO_HEALTHY_DEVICE", "no device can take a " + job.dtype().label()
                    + " GEMM now: " + healthSummary());
        }
        BackendSelectedEvent e = new BackendSelectedEvent();
        if (e.shouldCommit()) {
            e.operation = operation(job);
            e.policy = dispatch.toString();
            e.devices = plan.stream().map(p -> p.node.id + " " + p.gemm.describePart(job)).toList().toString();
            e.reason = plan.size() > 1 ? "split by live throughput" : dispatch.policy() == Dispatch.Policy.PINNED ? "pinned" : "best live throughput";
            e.commit();
        }
    }

    /** The built-in CPU on the caller's memory, for a single-device run (nothing else to fall back from). */
    private static boolean inPlaceOk(HostGemm job) {
        return job.a().isAccessibleBy(OTHER_THREAD) && job.b().isAccessibleBy(OTHER_THREAD) && job.c().isAccessibleBy(OTHER_THREAD);
    }

    private static void runInPlace(Node node, HostGemm job, long cls) {
        BackendDevice d = node.spi;
        BackendBuffer a = d.wrapHost(job.a()), b = d.wrapHost(job.b()), c = d.wrapHost(job.c());
        long t0 = System.nanoTime();
        boolean alone;
        try {
            alone = launch(node, job.callInPlace(a, b, c));
        } finally {
            a.release();
            b.release();
            c.release();
        }
        node.health.success(cls, job.flops(), alone ? System.nanoTime() - t0 : 0);
    }

    private static String operation(HostGemm job) {
        return job.dtype().label() + " gemm " + job.m() + "x" + job.n() + "x" + job.k() + (job.batchCount() > 1 ? " x" + job.batchCount() : "");
    }

    // ---------------------------------------------------------------------------------------------
    // Device-buffer GEMMs: the data lives on one device, so no failover, but the same deadline and health.

    /**
     * Runs a GEMM on the device that holds its buffers; {@code release} is called when the device is
     * done with them (later than this returns when the attempt missed its deadline).
     */
    public void runOn(String id, GemmCall call, Duration deadline, Runnable release) {
        Node node = node(id);
        HealthState state = node.health.state();
        if (!state.dispatchable()) {
            release.run();
            DeviceMetrics m = node.health.snapshot();
            String why = id + " is " + state + " (" + m.reason() + ")";
            throw state == HealthState.LOST ? new DeviceLostException(id, 0, "DEVICE_LOST", why, null)
                    : new DeviceException(id, 0, "QUARANTINED", why + "; KernelBridge.probe(device) tests it now, host-memory GEMMs (Blas) fail over");
        }
        long cls = ShapeClass.of(call.dtype(), call.m(), call.n(), call.k(), call.batchCount());
        double flops = 2.0 * call.m() * call.n() * Math.max(1, call.k()) * call.batchCount();
        if (node.trusted) {
            long t0 = System.nanoTime();
            boolean alone;
            try {
                alone = launch(node, call);
            } finally {
                release.run();
            }
            node.health.success(cls, flops, alone ? System.nanoTime() - t0 : 0);
            return;
        }
        Attempt a = new Attempt(node);
        try {
            workers.execute(() -> {
                a.thread = Thread.currentThread();
                try {
                    a.alone = launch(node, call);
                    a.nanos = System.nanoTime() - a.startNanos;
                    a.done.complete(null);
                } catch (Throwable t) {
                    a.done.completeExceptionally(t);
                } finally {
                    a.thread = null;
                    abandoned.remove(a);
                    Thread.interrupted();
                    release.run();
                    a.release();
                }
            });
        } catch (RuntimeException e) {
            release.run();
            throw e;
        }
        Duration limit = deadline != null ? deadline : Duration.ofMillis(10_000 + (long) (flops / 1e6));
        Throwable failure = await(a, limit);
        a.release();
        if (failure == null) {
            node.health.success(cls, flops, a.alone ? a.nanos : 0);
            return;
        }
        throw fileFailure(node, failure);
    }

    // ---------------------------------------------------------------------------------------------
    // Canaries and probes.

    private boolean sampleCanary() {
        if (canaryRate <= 0) {
            return false;
        }
        if (canaryRate >= 1) {
            return true;
        }
        long period = Math.max(1, Math.round(1 / canaryRate));
        return canaryCounter.incrementAndGet() % period == 0;
    }

    /**
     * Recomputes a sampled tile of one piece on a second device and compares within the dtype's
     * error bound; on a mismatch the piece's device is quarantined and the piece re-run elsewhere.
     */
    private void canary(HostGemm job, List<Done> done, Dispatch dispatch) {
        SplittableRandom rnd = new SplittableRandom(System.nanoTime());
        int index = rnd.nextInt(done.size());
        Done d = done.get(index);
        HostGemm p = d.part;
        Node checker = checker(p.dtype(), d.node);
        if (checker == null) {
            return;
        }
        telemetry.canaryChecks.incrementAndGet();
        long tm = Math.min(canaryTile, p.m()), tn = Math.min(canaryTile, p.n());
        long i0 = rnd.nextLong(p.m() - tm + 1), j0 = rnd.nextLong(p.n() - tn + 1), item = rnd.nextLong(p.batchCount());
        HostGemm tile = p.batches(item, item + 1).rows(i0, i0 + tm).columns(j0, j0 + tn);
        Attempt check = checker.trusted ? runInline(checker, tile) : startOnWorker(checker, tile);
        Throwable failure = await(check, deadline(dispatch, tile));
        if (failure != null) {
            fileFailure(checker, failure);
            check.release();
            return;
        }
        String mismatch = compare(p, d.result, tile, check.result, item, i0, j0);
        check.release();
        if (mismatch == null) {
            return;
        }
        telemetry.canaryMismatch(d.node.id, checker.id, mismatch);
        d.node.health.corruption("result canary: " + mismatch + " (checked on " + checker.id + ")");
        done.remove(index);
        d.release();
        Set<Node> tried = new HashSet<>(List.of(d.node));
        Node next = next(p.dtype(), tried, p.shapeClass());
        if (next == null) {
            throw new DeviceException(d.node.id, 0, "CANARY_MISMATCH", "result canary: " + mismatch + "; no other device can re-run it");
        }
        telemetry.failover(operation(job), p.describePart(job), d.node.id, next.id, "result canary: " + mismatch, d.nanos);
        d.node.health.failoverFrom();
        next.health.failoverTo();
        tried.add(next);
        Attempt again = next.trusted ? runInline(next, p) : startOnWorker(next, p);
        done.add(finish(job, p, next, again, dispatch, tried, false));
    }

    private Node checker(DType dtype, Node not) {
        Node pick = null;
        for (Node n : candidates(dtype, List.of())) {
            if (n != not && (pick == null || (n.trusted && !pick.trusted))) {
                pick = n;
            }
        }
        return pick;
    }

    /** Null when every tile element agrees within 2·(k+2)·u·gauge; else the first disagreement. */
    private static String compare(HostGemm p, MemorySegment result, HostGemm tile, MemorySegment check, long item, long i0, long j0) {
        double u = p.dtype().unitRoundoff();
        for (long j = 0; j < tile.n(); j++) {
            for (long i = 0; i < tile.m(); i++) {
                double x = p.resultAt(result, item, i0 + i, j0 + j);
                double y = tile.resultAt(check, 0, i, j);
                if (Double.compare(x, y) == 0 || (Double.isNaN(x) && Double.isNaN(y))) {
                    continue;
                }
                double gauge = 0;
                for (long q = 0; q < p.k(); q++) {
                    gauge += Math.abs(p.opA(item, i0 + i, q) * p.opB(item, q, j0 + j));
                }
                gauge = Math.abs(p.alpha()) * gauge + (p.beta() == 0 ? 0 : Math.abs(p.beta() * p.cAt(item, i0 + i, j0 + j)));
                double bound = 2.0 * (p.k() + 2) * u * gauge + Double.MIN_NORMAL;
                if (!Double.isFinite(gauge) || !(Math.abs(x - y) <= bound)) {
                    if (!Double.isFinite(gauge) && (Double.isNaN(x) == Double.isNaN(y)) && Double.isNaN(x)) {
                        continue;
                    }
                    return String.format("C(%d,%d) of %s is %s, expected %s (bound %.3g)", i0 + i, j0 + j, p.describePart(p), x, y, bound);
                }
            }
        }
        return null;
    }

    private void startDueProbes() {
        for (Node n : nodes) {
            if (n.health.state() == HealthState.QUARANTINED && n.health.claimProbe(false)) {
                try {
                    workers.execute(() -> runProbe(n));
                } catch (RuntimeException e) {
                    n.health.probed(false, "could not start: " + e);
                }
            }
        }
    }

    /**
     * Runs the verified probe on {@code id} now and returns whether it passed; a quarantined device
     * that passes is HEALTHY again, a dispatchable one that fails is quarantined.
     */
    public boolean probe(String id) {
        Node n = node(id);
        if (n.health.state() == HealthState.LOST) {
            return false;
        }
        if (n.health.state() == HealthState.QUARANTINED) {
            if (!n.health.claimProbe(true)) {
                return false; // one is running already
            }
            return runProbe(n);
        }
        String failure = probeFailure(n);
        if (failure != null) {
            n.health.corruption("probe failed: " + failure);
        }
        return failure == null;
    }

    private boolean runProbe(Node n) {
        String failure;
        try {
            failure = probeFailure(n);
        } catch (RuntimeException e) {
            failure = String.valueOf(e);
        }
        n.health.probed(failure == null, failure == null ? "exact 64x48x40 GEMM " + n.spi.info().dtypes() : failure);
        return failure == null;
    }

    /**
     * A small GEMM of small integers (exact in any order of summation) for each dtype of the device,
     * C prefilled with NaN and beta = 0; null when every element is exactly right.
     */
    private String probeFailure(Node n) {
        int m = 64, nn = 48, k = 40;
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            if (!n.spi.info().dtypes().contains(dtype)) {
                continue;
            }
            try (Arena arena = Arena.ofShared()) {
                MemorySegment a = arena.allocate((long) m * k * dtype.byteSize(), 64);
                MemorySegment b = arena.allocate((long) k * nn * dtype.byteSize(), 64);
                MemorySegment c = arena.allocate((long) m * nn * dtype.byteSize(), 64);
                long[] av = new long[m * k], bv = new long[k * nn];
                for (int i = 0; i < av.length; i++) {
                    av[i] = (i * 7L % 9) - 4;
                    set(a, dtype, i, av[i]);
                }
                for (int i = 0; i < bv.length; i++) {
                    bv[i] = (i * 5L % 7) - 3;
                    set(b, dtype, i, bv[i]);
                }
                for (int i = 0; i < m * nn; i++) {
                    set(c, dtype, i, Double.NaN);
                }
                HostGemm job = new HostGemm(dtype, dev.kernelbridge.Transpose.NO_TRANS, dev.kernelbridge.Transpose.NO_TRANS, m, nn, k, 1,
                        a, 0, m, 0, b, 0, k, 0, 0, c, 0, m, 0, 1);
                Attempt at = startOnWorker(n, job);
                Throwable failure = await(at, PROBE_DEADLINE);
                if (failure != null) {
                    at.release();
                    return String.valueOf(failure.getMessage());
                }
                try {
                    for (int j = 0; j < nn; j++) {
                        for (int i = 0; i < m; i++) {
                            long want = 0;
                            for (int q = 0; q < k; q++) {
                                want += av[i + q * m] * bv[q + j * k];
                            }
                            double got = job.resultAt(at.result, 0, i, j);
                            if (got != want) {
                                return dtype.label() + " probe C(" + i + "," + j + ") = " + got + ", expected " + want;
                            }
                        }
                    }
                } finally {
                    at.release();
                }
            }
        }
        return null;
    }

    private static void set(MemorySegment s, DType dtype, long i, double v) {
        if (dtype == DType.F32) {
            s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) v);
        } else {
            s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, i, v);
        }
    }

    // ---------------------------------------------------------------------------------------------

    public HealthState state(String id) { return node(id).health.state(); }

    public Metrics metrics() {
        List<DeviceMetrics> ds = nodes.stream().map(n -> n.health.snapshot()).toList();
        return new Metrics(ds, telemetry.operations.get(), telemetry.splits.get(), telemetry.failovers.get(), telemetry.canaryChecks.get(), telemetry.canaryMismatches.get());
    }

    private String healthSummary() {
        StringBuilder s = new StringBuilder();
        for (Node n : nodes) {
            s.append(s.isEmpty() ? "" : ", ").append(n.id).append(' ').append(n.health.state());
        }
        return s.toString();
    }

    /** Interrupts attempts that missed their deadline: an injected hang ends; a native one is left to the driver. */
    public void interruptAbandoned() {
        for (Attempt a : abandoned) {
            Thread t = a.thread;
            if (t != null) {
                t.interrupt();
            }
        }
    }

    @Override
    public void close() {
        prober.shutdownNow();
        interruptAbandoned();
        workers.shutdownNow();
    }
}
