package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceTimeoutException;
import dev.kernelbridge.events.KernelLaunchEvent;
import dev.kernelbridge.events.TransferEvent;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Attempts: one try of one piece on one device, on a worker thread (or inline for the built-in
 * CPU), into memory of its own, waited for up to a deadline. A late attempt is abandoned — its
 * thread interrupted, its memory freed when it returns — so nothing it writes reaches the caller.
 */
final class Attempts implements AutoCloseable {
    /** A thread that never runs: a segment it cannot access is confined to some thread. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> { });

    /** True when any thread may touch {@code s} (not confined to one thread). */
    static boolean anyThread(MemorySegment s) {
        return s.isAccessibleBy(OTHER_THREAD);
    }

    private final Set<Attempt> abandoned = ConcurrentHashMap.newKeySet();
    private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "kernelbridge-dispatch");
        t.setDaemon(true);
        return t;
    });

    /** One try of one piece on one device, owning the memory its result lands in. */
    static final class Attempt {
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
        /** One result per group of a grouped attempt, in the order of its groups ({@code result} is the first). */
        MemorySegment[] results;

        Attempt(Node node) { this.node = node; }

        /** Made on first use by the attempt's own thread: closing a shared arena costs a handshake with every thread. */
        Arena arena() {
            if (arena == null) {
                arena = NativeMemory.shared();
            }
            return arena;
        }

        void release() {
            if (holders.decrementAndGet() == 0 && arena != null) {
                arena.close();
            }
        }
    }

    /** The piece on {@code node} on a worker thread. */
    Attempt start(Node node, HostGemm part) {
        return startGroups(node, List.of(part));
    }

    /** The built-in CPU, on the caller's thread, into memory of its own (it is one piece of several, or checked). */
    Attempt runInline(Node node, HostGemm part) {
        return runGroupsInline(node, List.of(part));
    }

    /** Groups of a grouped GEMM as one grouped launch on {@code node}, on a worker thread. */
    Attempt startGroups(Node node, List<HostGemm> parts) {
        Attempt a = new Attempt(node);
        try {
            workers.execute(() -> perform(a, parts));
        } catch (RuntimeException e) {
            a.done.completeExceptionally(e);
            a.release();
        }
        return a;
    }

    /** Groups as one grouped launch on the built-in CPU, on the caller's thread, into memory of its own. */
    Attempt runGroupsInline(Node node, List<HostGemm> parts) {
        Attempt a = new Attempt(node);
        perform(a, parts);
        return a;
    }

    private void perform(Attempt a, List<HostGemm> parts) {
        a.thread = Thread.currentThread();
        try {
            a.results = compute(a.node, parts, a);
            a.result = a.results[0];
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
    Throwable await(Attempt a, Duration deadline) {
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

    /**
     * The pieces on {@code node} (one launch: a grouped one for several), each result in the attempt's
     * arena: a device with its own memory gets copies of the operands; a device on host memory works on
     * copies too, except that the built-in CPU reads A and B in place (it finishes before the caller returns).
     */
    private static MemorySegment[] compute(Node node, List<HostGemm> parts, Attempt attempt) {
        BackendDevice d = node.spi;
        Arena arena = attempt.arena();
        List<BackendBuffer> held = new ArrayList<>();
        MemorySegment[] results = new MemorySegment[parts.size()];
        List<GemmCall> calls = new ArrayList<>(parts.size());
        List<BackendBuffer> cs = new ArrayList<>(parts.size());
        try {
            for (int i = 0; i < parts.size(); i++) {
                HostGemm part = parts.get(i);
                if (d.sharesHostMemory()) {
                    BackendBuffer a = hold(held, d.wrapHost(hostView(part.sliceA(), node.trusted, arena)));
                    BackendBuffer b = hold(held, d.wrapHost(hostView(part.sliceB(), node.trusted, arena)));
                    results[i] = part.stageC(arena);
                    calls.add(part.call(a, b, hold(held, d.wrapHost(results[i]))));
                } else {
                    BackendBuffer a = hold(held, upload(node, part.inputType(), ownCopy(part.sliceA(), arena), true));
                    BackendBuffer b = hold(held, upload(node, part.inputType(), ownCopy(part.sliceB(), arena), true));
                    BackendBuffer c = hold(held, upload(node, part.dtype(), part.beta() != 0 ? ownCopy(part.sliceC(), arena) : part.sliceC(),
                            part.beta() != 0));
                    cs.add(c);
                    calls.add(part.call(a, b, c));
                }
            }
            attempt.alone = launch(node, calls);
            for (int i = 0; i < cs.size(); i++) {
                HostGemm part = parts.get(i);
                long bytes = part.spanC() * part.dtype().byteSize();
                results[i] = arena.allocate(Math.max(1, bytes), 64);
                cs.get(i).copyOut(0, results[i].asSlice(0, bytes));
                transfer(node, "device-to-host", bytes);
            }
            return results;
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

    /**
     * A native slice of the caller's memory, copied into the attempt's own arena before a driver is
     * given its address: the caller's shared arena may be closed by another thread meanwhile, and
     * a driver reading a raw address would then read freed memory (R19) — the JDK's own copy is
     * checked and fails cleanly instead. Heap slices already go through the backend's checked copies.
     */
    private static MemorySegment ownCopy(MemorySegment slice, Arena arena) {
        return slice.isNative() ? hostView(slice, false, arena) : slice;
    }

    private static MemorySegment hostView(MemorySegment slice, boolean trusted, Arena arena) {
        if (trusted && slice.isAccessibleBy(OTHER_THREAD)) {
            return slice;
        }
        return HostGemm.copy(arena, slice);
    }

    /** Runs the call; true when no other launch shared the device meanwhile (its time then measures the device). */
    static boolean launch(Node node, GemmCall call) {
        return launch(node, List.of(call));
    }

    /** One launch of one call, or a grouped launch of several (the event: m summed over groups, batch the items of all). */
    static boolean launch(Node node, List<GemmCall> calls) {
        KernelLaunchEvent e = new KernelLaunchEvent();
        e.begin();
        boolean ok = false;
        int before = node.busy.incrementAndGet();
        try {
            if (calls.size() == 1) {
                node.spi.gemm(calls.getFirst());
            } else {
                node.spi.gemmGrouped(calls);
            }
            ok = true;
        } finally {
            int after = node.busy.getAndDecrement();
            if (e.shouldCommit()) {
                GemmCall call = calls.getFirst();
                e.device = node.id;
                e.dtype = call.dtype().label();
                e.m = calls.stream().mapToLong(GemmCall::m).sum();
                e.n = call.n();
                e.k = call.k();
                e.batch = calls.stream().mapToLong(GemmCall::batchCount).sum();
                e.success = ok;
                e.commit();
            }
            if (ok) {
                node.launched();
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

    /** Interrupts attempts that missed their deadline: an injected hang ends; a native one is left to the driver. */
    public void interruptAbandoned() {
        for (Attempt a : abandoned) {
            Thread t = a.thread;
            if (t != null) {
                t.interrupt();
            }
        }
    }

    /**
     * A GEMM on device buffers on a worker thread; {@code release} runs when the device is done with
     * them, which is later than the caller's wait when the attempt is abandoned.
     */
    Attempt startCall(Node node, List<GemmCall> call, Runnable release) {
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
        return a;
    }

    /** Runs {@code task} on a worker (background probes). */
    void execute(Runnable task) {
        workers.execute(task);
    }

    @Override
    public void close() {
        interruptAbandoned();
        workers.shutdownNow();
    }
}
