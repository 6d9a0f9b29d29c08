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
import dev.kernelbridge.WorkloadException;
import dev.kernelbridge.events.BackendSelectedEvent;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Places GEMMs on the devices of one bridge: chooses (PINNED, FASTEST, SPLIT), runs each attempt
 * under a deadline, files the outcome with the device's {@link Health}, re-runs failed work on the
 * next healthy device (the CPU last), optionally checks a tile on a second device, and only then
 * writes the caller's C. Thread-safe.
 *
 * <p>Which device takes what is {@link Placement}'s; running and waiting is {@link Attempts}'
 * (every attempt except one on the built-in CPU writes into memory of its own, so a failed, late or
 * corrupt attempt never touches C); the canary's comparison and the probe are {@link Checks}'. The
 * built-in CPU backend is pure Java with nothing to hang on, so a single-device CPU run works on C
 * in place on the caller's thread.
 */
public final class Scheduler implements AutoCloseable {

    /** What the bridge tells the scheduler about one device. */
    public record DeviceEntry(String id, BackendDevice spi, boolean runsOnCallerThread, boolean cpu) { }

    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Node> byId = new HashMap<>();
    private final Telemetry telemetry;
    private final double canaryRate;
    private final int canaryTile;
    private final Placement placement;
    private final Attempts attempts = new Attempts();
    private final AtomicLong canaryCounter = new AtomicLong();
    /** Looks for quarantined devices whose probe is due, so they return without waiting for traffic. */
    private final java.util.concurrent.ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kernelbridge-health");
        t.setDaemon(true);
        return t;
    });

    /** Spares on duty, by the device whose place each took: that device's pinned work goes to it, and it stands by again when the device returns. */
    private final Map<String, Node> standIns = new java.util.concurrent.ConcurrentHashMap<>();
    /** Device pairs whose alike failures blamed the work: warned once per pair, DEBUG after. */
    private final Set<String> blamedPairs = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Shape classes the spares on standby have run once: the spare that steps in builds no kernel on the job's time. */
    private final Set<Long> warmOnSpares = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final boolean hasSpares;
    /** Shape classes larger than this are not warmed on spares: their kernel builds are small beside their work. */
    private static final double WARM_MAX_FLOPS = 1L << 31;
    private static final long WARM_MAX_BYTES = 64L << 20;

    /** {@code spares}: ids of devices held back as hot spares (see {@link #serviceChanged}). */
    public Scheduler(List<DeviceEntry> devices, Telemetry telemetry, int failuresToQuarantine, Duration firstProbe,
                     double canaryRate, int canaryTile, List<String> spares) {
        this.telemetry = telemetry;
        this.canaryRate = canaryRate;
        this.canaryTile = canaryTile;
        for (DeviceEntry d : devices) {
            Node node = new Node(d.id(), d.spi(), d.runsOnCallerThread(), d.cpu(), new Health(d.id(), telemetry, failuresToQuarantine, firstProbe));
            nodes.add(node);
            byId.put(d.id(), node);
        }
        for (String id : spares) {
            node(id).standby = true;
        }
        hasSpares = !spares.isEmpty();
        placement = new Placement(nodes);
        telemetry.onServiceChange(this::serviceChanged);
        for (Node n : nodes) {
            // A drain that leaves no device for the work loses more than it saves; and the CPU shares its
            // cores with everything else in the process, so its slowness is the machine's, not a fault.
            n.health.foresight(() -> nodes.stream().anyMatch(o -> o != n && o.health.dispatchable()), !n.cpu);
        }
        long tick = Math.clamp(firstProbe.toMillis() / 2, 20, 1000);
        prober.scheduleWithFixedDelay(this::startDueProbes, tick, tick, TimeUnit.MILLISECONDS);
    }

    // ---------------------------------------------------------------------------------------------
    // Host-memory GEMMs: placed by policy, failed work re-run elsewhere.

    /** Runs {@code job} as {@code dispatch} says; returns when the caller's C holds the correct result. */
    public void run(HostGemm job, Dispatch dispatch) {
        if (!inPlaceOk(job)) {
            // Memory confined to the caller's thread cannot be read by a device's worker thread:
            // the work runs on shared copies made here, and C comes back here, only on success.
            try (java.lang.foreign.Arena shared = NativeMemory.shared()) {
                HostGemm staged = job.stagedIn(shared);
                run(staged, dispatch);
                job.writeBack(staged.c());
            }
            return;
        }
        telemetry.operations.incrementAndGet();
        long cls = job.shapeClass();
        warmSpares(job, cls);
        List<Node> candidates = placement.candidates(job.inputType(), dispatch.devices());
        boolean canary = sampleCanary();
        List<Placement.Part> plan = switch (dispatch.policy()) {
            case PINNED -> List.of(new Placement.Part(job, pinned(dispatch, job, cls)));
            case FASTEST -> List.of(new Placement.Part(job, placement.fastest(candidates.isEmpty() ? placement.candidates(job.inputType(), List.of()) : candidates, cls)));
            case SPLIT -> placement.split(job, candidates.isEmpty() ? placement.candidates(job.inputType(), List.of()) : candidates, cls, dispatch.splitsAlways());
        };
        selected(job, dispatch, plan);
        if (plan.size() == 1 && plan.getFirst().node().trusted && !canary && inPlaceOk(job)) {
            runInPlace(plan.getFirst().node(), job, cls);
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
            placement.recordSplit(cls, job.flops(), System.nanoTime() - start,
                    done.stream().map(d -> new Placement.Piece(d.node, d.part.flops(), d.nanos)).toList());
        }
    }

    /** A finished piece: its result laid out like C from element 0, held until written back (null: already in C). */
    private record Done(HostGemm part, Node node, MemorySegment result, Attempts.Attempt owner, long nanos) {
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
    private void execute(HostGemm job, List<Placement.Part> plan, Dispatch dispatch, List<Done> done, boolean canary) {
        Attempts.Attempt[] started = new Attempts.Attempt[plan.size()];
        int collected = 0;
        try {
            for (int i = 0; i < plan.size(); i++) {
                if (!plan.get(i).node().trusted) {
                    started[i] = attempts.start(plan.get(i).node(), plan.get(i).gemm());
                }
            }
            for (int i = 0; i < plan.size(); i++) {
                if (plan.get(i).node().trusted) {
                    started[i] = attempts.runInline(plan.get(i).node(), plan.get(i).gemm());
                }
            }
            boolean inPlace = plan.size() == 1 && !canary && inPlaceOk(job);
            for (; collected < plan.size(); collected++) {
                Placement.Part p = plan.get(collected);
                Attempts.Attempt a = started[collected];
                started[collected] = null;
                done.add(finish(job, p.gemm(), p.node(), a, dispatch, new HashSet<>(List.of(p.node())), inPlace));
            }
        } finally {
            for (Attempts.Attempt a : started) {
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
    private Done finish(HostGemm job, HostGemm part, Node node, Attempts.Attempt attempt, Dispatch dispatch, Set<Node> tried, boolean inPlace) {
        long cls = part.shapeClass();
        Suspects suspects = new Suspects();
        while (true) {
            Throwable failure = attempts.await(attempt, deadline(dispatch, part));
            if (failure == null) {
                suspects.file(); // the work ran here: the devices that failed it are to blame after all
                // A piece of a split shares the machine with the other pieces: its time is not the
                // device's own throughput for this class (SPLIT keeps piece rates of its own).
                node.health.success(cls, part.flops(), part == job && attempt.alone ? attempt.nanos : 0);
                return new Done(part, node, attempt.result, attempt, attempt.nanos);
            }
            attempt.release();
            RuntimeException error = suspects.failed(node, failure, dispatch, operation(job), part.describePart(job));
            if (!dispatch.fallback() || !deviceFailure(failure)) {
                throw error;
            }
            Node next = placement.next(part.inputType(), tried, cls);
            if (next == null) {
                suspects.file();
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
                suspects.file(); // the built-in CPU is the last resort: its failure is not weighed against the others'
                long t0 = System.nanoTime();
                runInPlace(next, part, cls);
                return new Done(part, next, null, null, System.nanoTime() - t0);
            }
            attempt = next.trusted ? attempts.runInline(next, part) : attempts.start(next, part);
        }
    }

    /**
     * The failures of one piece of work as it goes from device to device. A plain launch failure
     * waits here, not yet held against its device, until the work has run elsewhere: if a device
     * unlike it (another backend or model) fails the same work the same way, the work is to blame
     * (a poisoned input fails everywhere; a failing device fails alone), and neither device is
     * marked. Any other outcome files what waits. Lost devices, missed deadlines and out-of-memory
     * are filed at once: they say something about the device whatever the work.
     */
    private final class Suspects {
        private final List<Node> nodes = new ArrayList<>(2);
        private final List<DeviceException> failures = new ArrayList<>(2);

        /** Takes a failed attempt on {@code node}; returns what the caller gets if nothing else works, or throws when the work is to blame. */
        RuntimeException failed(Node node, Throwable failure, Dispatch dispatch, String operation, String part) {
            if (!dispatch.fallback() || failure.getClass() != DeviceException.class) {
                file();
                return fileFailure(node, failure);
            }
            DeviceException e = (DeviceException) failure;
            for (int i = 0; i < nodes.size(); i++) {
                if (nodes.get(i).unlike(node)) {
                    throw blame(operation, part, nodes.get(i), failures.get(i), node, e);
                }
            }
            nodes.add(node);
            failures.add(e);
            return e;
        }

        void file() {
            for (int i = 0; i < nodes.size(); i++) {
                fileFailure(nodes.get(i), failures.get(i));
            }
            nodes.clear();
            failures.clear();
        }

        private WorkloadException blame(String operation, String part, Node first, DeviceException firstFailure, Node second, DeviceException secondFailure) {
            nodes.clear(); // neither is held against its device
            failures.clear();
            String why = String.format("%s (%s) failed alike on %s (%s) and %s (%s): the work is to blame, not the devices; neither leaves service",
                    operation, part, first.id, firstFailure.getMessage(), second.id, secondFailure.getMessage());
            telemetry.foresight(first.id + "," + second.id, "workload", "blame", why, !blamedPairs.add(first.id + "," + second.id));
            WorkloadException w = new WorkloadException(List.of(first.id, second.id), secondFailure, why);
            w.addSuppressed(firstFailure);
            return w;
        }
    }

    /**
     * Whether another device might succeed where this one failed. Anything else (the caller's arena
     * closed under the call, a confined segment) would fail the same everywhere: it goes straight
     * to the caller instead of being re-run and reported as a device's failover.
     */
    private static boolean deviceFailure(Throwable failure) {
        return failure instanceof DeviceException || failure instanceof UnsupportedOperationException;
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
    // Grouped GEMMs on host memory: whole groups placed, failed groups re-run elsewhere.

    /**
     * Runs the groups of a grouped GEMM as {@code dispatch} says and returns when every caller's C holds
     * its result. PINNED and FASTEST run every group on one device in one grouped launch; SPLIT assigns
     * whole groups to devices ({@link Placement#assignGroups}), one grouped launch per device, all at
     * once. A device that fails hands its groups to the next healthy one (the CPU last) as one piece, so
     * no group is lost or run twice into C; C is written only once every group has succeeded.
     * {@code numbers} are the groups' numbers as the caller counts them, for events and errors.
     * No result canary yet: grouped calls are not sampled.
     */
    public void runGrouped(List<HostGemm> groups, int[] numbers, Dispatch dispatch) {
        if (!groups.stream().allMatch(Scheduler::inPlaceOk)) { // confined memory: as in run(HostGemm, Dispatch)
            try (java.lang.foreign.Arena shared = NativeMemory.shared()) {
                List<HostGemm> staged = groups.stream().map(g -> g.stagedIn(shared)).toList();
                runGrouped(staged, numbers, dispatch);
                for (int i = 0; i < groups.size(); i++) {
                    groups.get(i).writeBack(staged.get(i).c());
                }
            }
            return;
        }
        telemetry.operations.incrementAndGet();
        DType type = groups.getFirst().inputType();
        double[] flops = groups.stream().mapToDouble(HostGemm::flops).toArray();
        double total = java.util.Arrays.stream(flops).sum();
        long cls = groupedClass(type, total, groups.size());
        List<Node> candidates = placement.candidates(type, dispatch.devices());
        if (candidates.isEmpty()) {
            candidates = placement.candidates(type, List.of());
        }
        List<GroupPiece> plan = new ArrayList<>();
        List<Integer> all = java.util.stream.IntStream.range(0, groups.size()).boxed().toList();
        switch (dispatch.policy()) {
            case PINNED -> plan.add(new GroupPiece(pinned(dispatch, groups.getFirst(), cls), all));
            case FASTEST -> plan.add(new GroupPiece(placement.fastest(candidates, cls), all));
            case SPLIT -> {
                if (candidates.size() <= 1 || groups.size() == 1) {
                    plan.add(new GroupPiece(candidates.isEmpty() ? null : placement.fastest(candidates, cls), all));
                } else {
                    List<List<Integer>> assigned = placement.assignGroups(flops, candidates, cls);
                    for (int i = 0; i < assigned.size(); i++) {
                        if (!assigned.get(i).isEmpty()) {
                            plan.add(new GroupPiece(candidates.get(i), assigned.get(i)));
                        }
                    }
                }
            }
        }
        String operation = groupedOperation(groups);
        selectedGroups(operation, type, dispatch, plan, numbers);
        if (plan.size() == 1 && plan.getFirst().node().trusted && groups.stream().allMatch(Scheduler::inPlaceOk)) {
            runGroupsInPlace(plan.getFirst().node(), groups, cls, total);
            return;
        }
        if (plan.size() > 1) {
            telemetry.splits.incrementAndGet();
        }
        long start = System.nanoTime();
        Attempts.Attempt[] started = new Attempts.Attempt[plan.size()];
        List<GroupsDone> done = new ArrayList<>();
        try {
            for (int i = 0; i < plan.size(); i++) {
                if (!plan.get(i).node().trusted) {
                    started[i] = attempts.startGroups(plan.get(i).node(), parts(groups, plan.get(i).groups()));
                }
            }
            for (int i = 0; i < plan.size(); i++) {
                if (plan.get(i).node().trusted) {
                    started[i] = attempts.runGroupsInline(plan.get(i).node(), parts(groups, plan.get(i).groups()));
                }
            }
            for (int i = 0; i < plan.size(); i++) {
                Attempts.Attempt a = started[i];
                started[i] = null;
                done.add(finishGroups(operation, groups, numbers, plan.get(i), a, dispatch, cls, plan.size() == 1));
            }
            for (GroupsDone d : done) {
                for (int j = 0; j < d.groups().size(); j++) {
                    groups.get(d.groups().get(j)).writeBack(d.attempt().results[j]);
                }
            }
        } finally {
            for (Attempts.Attempt a : started) {
                if (a != null) {
                    a.release();
                }
            }
            done.forEach(d -> d.attempt().release());
        }
        if (plan.size() > 1) {
            placement.recordSplit(cls, total, System.nanoTime() - start,
                    done.stream().map(d -> new Placement.Piece(d.node(), d.flops(), d.attempt().nanos)).toList());
        }
    }

    /** Groups (indices into the call's list) that start on one device. */
    private record GroupPiece(Node node, List<Integer> groups) { }

    /** A finished piece of a grouped call: where it ran, its groups, and the attempt holding their results. */
    private record GroupsDone(Node node, List<Integer> groups, Attempts.Attempt attempt, double flops) { }

    private static List<HostGemm> parts(List<HostGemm> groups, List<Integer> indices) {
        return indices.stream().map(groups::get).toList();
    }

    /** Waits for a grouped piece; on failure its groups go, as one piece, to the next healthy device until one succeeds. */
    private GroupsDone finishGroups(String operation, List<HostGemm> groups, int[] numbers, GroupPiece piece, Attempts.Attempt attempt,
                                    Dispatch dispatch, long cls, boolean whole) {
        Node node = piece.node();
        List<HostGemm> parts = parts(groups, piece.groups());
        double flops = parts.stream().mapToDouble(HostGemm::flops).sum();
        Set<Node> tried = new HashSet<>(List.of(node));
        Suspects suspects = new Suspects();
        while (true) {
            Throwable failure = attempts.await(attempt, dispatch.deadline().orElseGet(() -> autoDeadline(flops)));
            if (failure == null) {
                suspects.file();
                node.health.success(cls, flops, whole && attempt.alone ? attempt.nanos : 0);
                return new GroupsDone(node, piece.groups(), attempt, flops);
            }
            attempt.release();
            String which = describeGroups(piece.groups(), numbers);
            RuntimeException error = suspects.failed(node, failure, dispatch, operation, which);
            if (!dispatch.fallback() || !deviceFailure(failure)) {
                throw error;
            }
            Node next = placement.next(parts.getFirst().inputType(), tried, cls);
            if (next == null) {
                suspects.file();
                error.addSuppressed(new IllegalStateException("no other device can take " + which + " (tried " + tried + "; " + healthSummary() + ")"));
                throw error;
            }
            telemetry.failover(operation, which, node.id, next.id, String.valueOf(failure.getMessage()), attempt.nanos);
            node.health.failoverFrom();
            next.health.failoverTo();
            tried.add(next);
            node = next;
            attempt = next.trusted ? attempts.runGroupsInline(next, parts) : attempts.startGroups(next, parts);
        }
    }

    /** The built-in CPU alone on the caller's memory: one grouped launch, each distinct segment wrapped once. */
    private static void runGroupsInPlace(Node node, List<HostGemm> groups, long cls, double flops) {
        BackendDevice d = node.spi;
        Map<MemorySegment, BackendBuffer> wrapped = new java.util.IdentityHashMap<>();
        java.util.function.Function<MemorySegment, BackendBuffer> wrap = s -> wrapped.computeIfAbsent(s, d::wrapHost);
        long t0 = System.nanoTime();
        boolean alone;
        try {
            List<GemmCall> calls = new ArrayList<>();
            for (HostGemm g : groups) {
                calls.add(g.callInPlace(wrap.apply(g.a()), wrap.apply(g.b()), wrap.apply(g.c())));
            }
            alone = Attempts.launch(node, calls);
        } finally {
            wrapped.values().forEach(BackendBuffer::release);
        }
        node.health.success(cls, flops, alone ? System.nanoTime() - t0 : 0);
    }

    /**
     * Throughput of grouped calls is filed by the input type, the size of the mean group (the cube
     * root of its m·n·k) and the number of groups, as a strided batch of that many mean groups.
     */
    static long groupedClass(DType type, double flops, int groups) {
        long size = Math.max(1, Math.round(Math.cbrt(flops / 2 / Math.max(1, groups))));
        return ShapeClass.of(type, size, size, size, groups);
    }

    private static String groupedOperation(List<HostGemm> groups) {
        long rows = groups.stream().mapToLong(HostGemm::m).sum();
        return groups.getFirst().types() + " grouped gemm of " + groups.size() + " groups, " + rows + " rows of C in all";
    }

    /** "groups 0, 3, 5" in the caller's numbering. */
    private static String describeGroups(List<Integer> indices, int[] numbers) {
        StringBuilder s = new StringBuilder(indices.size() == 1 ? "group " : "groups ");
        for (int i = 0; i < indices.size(); i++) {
            s.append(i == 0 ? "" : ", ").append(numbers[indices.get(i)]);
        }
        return s.toString();
    }

    private void selectedGroups(String operation, DType type, Dispatch dispatch, List<GroupPiece> plan, int[] numbers) {
        if (plan.getFirst().node() == null) {
            throw new DeviceException("none", 0, "NO_HEALTHY_DEVICE", "no device can take a " + type.label()
                    + " grouped GEMM now: " + healthSummary());
        }
        BackendSelectedEvent e = new BackendSelectedEvent();
        if (e.shouldCommit()) {
            e.operation = operation;
            e.policy = dispatch.toString();
            e.devices = plan.stream().map(p -> p.node().id + " " + describeGroups(p.groups(), numbers)).toList().toString();
            e.reason = plan.size() > 1 ? "whole groups by live throughput" : dispatch.policy() == Dispatch.Policy.PINNED ? "pinned" : "best live throughput";
            e.commit();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Choosing devices.

    /** The pinned device; when it cannot take work, the next healthy one (with an event) or, without fallback, an error. */
    private Node pinned(Dispatch dispatch, HostGemm job, long cls) {
        Node n = node(dispatch.devices().getFirst());
        if (n.health.dispatchable() && n.spi.info().dtypes().contains(job.inputType())) {
            return n;
        }
        String why = n.id + (n.health.dispatchable() ? " has no " + job.inputType().label() : " is " + n.health.state() + " (" + n.health.snapshot().reason() + ")");
        if (!dispatch.fallback()) {
            throw n.health.state() == HealthState.LOST ? new DeviceLostException(n.id, 0, "DEVICE_LOST", why, null)
                    : new DeviceException(n.id, 0, n.health.state().name(), why + "; fallback is forbidden");
        }
        Node standIn = standIns.get(n.id);
        Node next = standIn != null && standIn.serving() && standIn.spi.info().dtypes().contains(job.inputType())
                ? standIn : placement.next(job.inputType(), Set.of(n), cls);
        if (next != null) {
            telemetry.rerouted(operation(job), n.id, next.id, "pinned device unavailable: " + why);
            n.health.failoverFrom();
            next.health.failoverTo();
        }
        return next;
    }

    /**
     * Hot spares. When a serving device leaves service (drained, quarantined, lost), the first spare on
     * standby that is healthy and holds every type the device held takes its place at once: placement
     * sees it from the next call on, and the device's pinned work goes to it. When the device returns,
     * its stand-in goes back to standby (work it is running finishes). Called under the device's health
     * lock: only volatile flags and this map are touched here.
     */
    private void serviceChanged(String id, boolean inService) {
        Node n = byId.get(id);
        if (n == null) {
            return;
        }
        if (inService) {
            Node standIn = standIns.remove(id);
            if (standIn != null) {
                standIn.standby = true;
                telemetry.foresight(standIn.id, "spare", "standby", id + " is back in service");
            }
            return;
        }
        if (n.standby || standIns.containsKey(id)) {
            return; // a spare on standby left service: nothing to replace
        }
        Node activeFor = null;
        for (Map.Entry<String, Node> e : standIns.entrySet()) {
            if (e.getValue() == n) {
                activeFor = byId.get(e.getKey()); // a stand-in itself failed: another spare takes the original's place
            }
        }
        String replaced = activeFor == null ? id : activeFor.id;
        for (Node spare : nodes) {
            if (spare.standby && spare.health.dispatchable() && spare.spi.info().dtypes().containsAll(n.spi.info().dtypes())) {
                spare.standby = false;
                standIns.put(replaced, spare);
                telemetry.foresight(spare.id, "spare", "activate", "takes the place of " + id + " (" + n.health.state() + ")");
                return;
            }
        }
    }

    /**
     * Keeps the spares hot: the first call of each shape class makes every spare on standby run a GEMM
     * of the same shape and types in the background, on zeros of its own, so the spare that steps in
     * finds its kernels built and its caches filled. A spare that fails it is found out now, not when
     * it is needed.
     */
    private void warmSpares(HostGemm job, long cls) {
        if (!hasSpares || job.flops() > WARM_MAX_FLOPS || warmOnSpares.contains(cls)) {
            return;
        }
        long bytes = (job.m() * job.k() + job.k() * job.n()) * job.inputType().byteSize() + job.m() * job.n() * job.dtype().byteSize();
        if (bytes > WARM_MAX_BYTES || !warmOnSpares.add(cls)) {
            return;
        }
        for (Node spare : nodes) {
            if (spare.standby && spare.health.dispatchable() && spare.spi.info().dtypes().contains(job.inputType())) {
                try {
                    attempts.execute(() -> warm(spare, job));
                } catch (RuntimeException closing) {
                    return;
                }
            }
        }
    }

    private void warm(Node spare, HostGemm like) {
        long m = like.m(), n = like.n(), k = like.k();
        boolean aPlain = like.transA() == dev.kernelbridge.Transpose.NO_TRANS, bPlain = like.transB() == dev.kernelbridge.Transpose.NO_TRANS;
        try (java.lang.foreign.Arena arena = NativeMemory.shared()) {
            long in = like.inputType().byteSize();
            HostGemm w = new HostGemm(like.dtype(), like.transA(), like.transB(), m, n, k, 1,
                    arena.allocate(m * k * in, 64), 0, aPlain ? m : k, 0, arena.allocate(k * n * in, 64), 0, bPlain ? k : n, 0,
                    0, arena.allocate(m * n * like.dtype().byteSize(), 64), 0, m, 0, 1, like.inputType(), 0, 0);
            Attempts.Attempt at = attempts.start(spare, w);
            Throwable failure = attempts.await(at, autoDeadline(w.flops()));
            at.release();
            if (failure != null) {
                fileFailure(spare, failure);
            }
        } catch (RuntimeException e) {
            fileFailure(spare, e); // out of memory for the scratch, a closing bridge: said once, as any failure
        }
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

    /**
     * Auto: 60 s plus 10 s per GFLOP of the piece. Only a device slower than 0.1 GFLOP/s counts as
     * hung: a reference kernel on a loaded host must never be cut off, quarantined and refused.
     */
    static Duration autoDeadline(double flops) {
        return Duration.ofMillis(60_000 + (long) (flops / 1e5));
    }

    private static Duration deadline(Dispatch dispatch, HostGemm part) {
        return dispatch.deadline().orElseGet(() -> autoDeadline(part.flops()));
    }

    private void selected(HostGemm job, Dispatch dispatch, List<Placement.Part> plan) {
        if (plan.getFirst().node() == null) {
            throw new DeviceException("none", 0, "NO_HEALTHY_DEVICE", "no device can take a " + job.types()
                    + " GEMM now: " + healthSummary());
        }
        BackendSelectedEvent e = new BackendSelectedEvent();
        if (e.shouldCommit()) {
            e.operation = operation(job);
            e.policy = dispatch.toString();
            e.devices = plan.stream().map(p -> p.node().id + " " + p.gemm().describePart(job)).toList().toString();
            e.reason = plan.size() > 1 ? "split by live throughput" : dispatch.policy() == Dispatch.Policy.PINNED ? "pinned" : "best live throughput";
            e.commit();
        }
    }

    /** The built-in CPU on the caller's memory, for a single-device run (nothing else to fall back from). */
    private static boolean inPlaceOk(HostGemm job) {
        return Attempts.anyThread(job.a()) && Attempts.anyThread(job.b()) && Attempts.anyThread(job.c());
    }

    private static void runInPlace(Node node, HostGemm job, long cls) {
        BackendDevice d = node.spi;
        BackendBuffer a = d.wrapHost(job.a()), b = d.wrapHost(job.b()), c = d.wrapHost(job.c());
        double flops = job.flops();
        boolean timed = node.timeInPlace(flops);
        long t0 = timed ? System.nanoTime() : 0;
        boolean alone;
        try {
            alone = Attempts.launch(node, job.callInPlace(a, b, c));
        } finally {
            a.release();
            b.release();
            c.release();
        }
        node.health.success(cls, flops, timed && alone ? System.nanoTime() - t0 : 0);
    }

    private static String operation(HostGemm job) {
        return job.types() + " gemm " + job.m() + "x" + job.n() + "x" + job.k() + (job.batchCount() > 1 ? " x" + job.batchCount() : "");
    }

    // ---------------------------------------------------------------------------------------------
    // Device-buffer GEMMs: the data lives on one device, so no failover, but the same deadline and health.

    /**
     * Runs a GEMM on the device that holds its buffers; {@code release} is called when the device is
     * done with them (later than this returns when the attempt missed its deadline).
     */
    public void runOn(String id, GemmCall call, Duration deadline, Runnable release) {
        runGroupedOn(id, List.of(call), deadline, release);
    }

    /** As {@link #runOn}, for the groups of a grouped GEMM: one launch (a grouped one for several calls). */
    public void runGroupedOn(String id, List<GemmCall> calls, Duration deadline, Runnable release) {
        Node node = node(id);
        HealthState state = node.health.state();
        if (!state.dispatchable()) {
            release.run();
            DeviceMetrics m = node.health.snapshot();
            String why = id + " is " + state + " (" + m.reason() + ")";
            throw state == HealthState.LOST ? new DeviceLostException(id, 0, "DEVICE_LOST", why, null)
                    : new DeviceException(id, 0, "QUARANTINED", why + "; KernelBridge.probe(device) tests it now, host-memory GEMMs (Blas) fail over");
        }
        GemmCall call = calls.getFirst();
        double flops = calls.stream().mapToDouble(x -> 2.0 * x.m() * x.n() * Math.max(1, x.k()) * x.batchCount()).sum();
        long cls = calls.size() == 1 ? ShapeClass.of(call.inputType(), call.m(), call.n(), call.k(), call.batchCount())
                : groupedClass(call.inputType(), flops, calls.size());
        if (node.trusted) {
            long t0 = System.nanoTime();
            boolean alone;
            try {
                alone = Attempts.launch(node, calls);
            } finally {
                release.run();
            }
            node.health.success(cls, flops, alone ? System.nanoTime() - t0 : 0);
            return;
        }
        Attempts.Attempt a = attempts.startCall(node, calls, release);
        Duration limit = deadline != null ? deadline : autoDeadline(flops);
        Throwable failure = attempts.await(a, limit);
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
        Node checker = checker(p.inputType(), d.node);
        if (checker == null) {
            return;
        }
        telemetry.canaryChecks.incrementAndGet();
        long tm = Math.min(canaryTile, p.m()), tn = Math.min(canaryTile, p.n());
        long i0 = rnd.nextLong(p.m() - tm + 1), j0 = rnd.nextLong(p.n() - tn + 1), item = rnd.nextLong(p.batchCount());
        HostGemm tile = p.batches(item, item + 1).rows(i0, i0 + tm).columns(j0, j0 + tn);
        Attempts.Attempt check = checker.trusted ? attempts.runInline(checker, tile) : attempts.start(checker, tile);
        Throwable failure = attempts.await(check, deadline(dispatch, tile));
        if (failure != null) {
            fileFailure(checker, failure);
            check.release();
            return;
        }
        Checks.Mismatch found = Checks.compareTile(p, d.result, tile, check.result, item, i0, j0);
        check.release();
        if (found == null) {
            return;
        }
        if (!found.canaryRight()) { // the checker computed it wrong: it too is taken out of service
            String text = String.format("C as recomputed is %s, the host's value %s, %s's %s", found.canary(), found.host(), d.node.id, found.piece());
            telemetry.canaryMismatch(checker.id, d.node.id + " and the host", text);
            checker.health.corruption("result canary (as checker): " + text);
        }
        if (found.pieceRight()) { // the host sides with the piece: its result stands
            return;
        }
        String mismatch = found.text();
        telemetry.canaryMismatch(d.node.id, checker.id, mismatch);
        d.node.health.corruption("result canary: " + mismatch + " (checked on " + checker.id + ")");
        done.remove(index);
        d.release();
        Set<Node> tried = new HashSet<>(List.of(d.node));
        Node next = placement.next(p.inputType(), tried, p.shapeClass());
        if (next == null) {
            throw new DeviceException(d.node.id, 0, "CANARY_MISMATCH", "result canary: " + mismatch + "; no other device can re-run it");
        }
        telemetry.failover(operation(job), p.describePart(job), d.node.id, next.id, "result canary: " + mismatch, d.nanos);
        d.node.health.failoverFrom();
        next.health.failoverTo();
        tried.add(next);
        Attempts.Attempt again = next.trusted ? attempts.runInline(next, p) : attempts.start(next, p);
        done.add(finish(job, p, next, again, dispatch, tried, false));
    }

    private Node checker(DType dtype, Node not) {
        Node pick = null;
        for (Node n : placement.candidates(dtype, List.of())) {
            if (n != not && (pick == null || (n.trusted && !pick.trusted))) {
                pick = n;
            }
        }
        return pick;
    }

    private void startDueProbes() {
        for (Node n : nodes) {
            if (n.health.state() == HealthState.QUARANTINED && n.health.claimProbe(false)) {
                try {
                    attempts.execute(() -> runProbe(n));
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
        String failure = Checks.probeFailure(n, attempts);
        if (failure != null) {
            n.health.corruption("probe failed: " + failure);
        }
        return failure == null;
    }

    private boolean runProbe(Node n) {
        String failure;
        try {
            dev.kernelbridge.DeviceTelemetry idle = n.health.drainedByTrend() ? n.spi.telemetry() : null; // before any probe launch
            failure = Checks.probeFailure(n, attempts);
            if (failure == null && idle != null) {
                failure = soak(n, idle);
            }
        } catch (RuntimeException e) {
            failure = String.valueOf(e);
        }
        n.health.probed(failure == null, failure == null ? "exact 64x48x40 GEMM " + n.spi.info().dtypes() : failure);
        return failure == null;
    }

    /**
     * A device the trend rule drained comes back only after a soak: probe launches for one telemetry
     * window (and at least {@link #SOAK_MIN}, longer than any backend caches its telemetry), whose
     * corrected errors must not exceed the usual rate it had before. {@code before}: its telemetry before the probe.
     */
    private String soak(Node n, dev.kernelbridge.DeviceTelemetry before) {
        long until = System.nanoTime() + SOAK_MIN.toNanos();
        String failure = null;
        for (int launches = 2; failure == null && (launches < dev.kernelbridge.internal.foresight.TrendRule.WINDOW || System.nanoTime() < until); launches += 2) {
            failure = Checks.probeFailure(n, attempts); // F32 and F64 where the device has them: about two launches
            if (failure == null && !sleepQuietly(SOAK_MIN.toMillis() / (dev.kernelbridge.internal.foresight.TrendRule.WINDOW / 2))) {
                return "soak interrupted (the bridge is closing)"; // spread over the soak, not a core held
            }
        }
        return failure != null ? failure : n.health.stillDrained(before, n.spi.telemetry());
    }

    private static final Duration SOAK_MIN = Duration.ofMillis(1500);

    /** False when interrupted (the interrupt is kept). */
    private static boolean sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
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
        attempts.interruptAbandoned();
    }

    @Override
    public void close() {
        prober.shutdownNow();
        attempts.close();
    }
}
