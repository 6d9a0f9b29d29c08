package dev.kernelbridge;

import dev.kernelbridge.internal.Lifetime;
import dev.kernelbridge.internal.collective.CollectiveRequest;
import dev.kernelbridge.internal.collective.CollectiveRequest.Kind;
import dev.kernelbridge.internal.collective.CollectiveGroup;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One rank of a group that runs collectives together, NCCL style: every rank calls the same
 * collectives in the same order, each from its own thread (or through the asynchronous forms).
 * A rank's calls run in the order it issued them.
 *
 * <p>Every call has a deadline: the group's default ({@code kernelbridge.collective.timeout}) or
 * the one given. When a rank does not arrive in time, the others fail with a
 * {@link CollectiveTimeoutException} naming the missing ranks; when ranks call different things,
 * all fail with a {@link CollectiveMismatchException}. Either aborts the group: later calls fail at
 * once. Reductions combine ranks in rank order, so results are bitwise equal on every rank, for
 * every count and every run of the same group.
 *
 * <p>Arguments are checked before anything is shared with the other ranks; a rejected call
 * changes nothing and does not count as a call. Thread-safe; close each rank when done.
 */
public final class Communicator implements AutoCloseable {
    private final KernelBridge bridge;
    private final CollectiveGroup group;
    private final int member;
    private final int rank;
    private final Device device;
    private final Duration defaultTimeout;
    private final ExecutorService queue;
    private long nextSequence;
    private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.locks.ReentrantLock running = new java.util.concurrent.locks.ReentrantLock();
    private volatile boolean closed;

    /** Rank {@code rank} of {@code group}, which knows it as member {@code member} (its index among this process's ranks). */
    Communicator(KernelBridge bridge, CollectiveGroup group, int member, int rank, Device device, Duration defaultTimeout) {
        this.bridge = bridge;
        this.group = group;
        this.member = member;
        this.rank = rank;
        this.device = device;
        this.defaultTimeout = defaultTimeout;
        // A platform thread: collectives are memory-bound work that must run in parallel across
        // ranks, which the virtual-thread scheduler does not promise for tasks that never block.
        this.queue = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name("kernelbridge-rank-" + rank).factory());
    }

    public int rank() { return rank; }

    public int size() { return group.size(); }

    /** The device this rank's buffers are expected on. */
    public Device device() { return device; }

    public Duration defaultTimeout() { return defaultTimeout; }

    /** recv[i] := op over ranks of send[i], for i < count. send == recv is in place. */
    public void allReduce(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op) {
        join(allReduce(send, recv, count, op, defaultTimeout, true));
    }

    public CompletableFuture<Void> allReduceAsync(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op, Duration timeout) {
        return allReduce(send, recv, count, op, timeout, false);
    }

    private CompletableFuture<Void> allReduce(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op, Duration timeout, boolean inline) {
        GemmChecks.requireNonNull(op, "op must not be null");
        checkBuffers(send, recv, count, count, count, timeout);
        checkOp(op, send.dtype());
        return submit(new CollectiveRequest(Kind.ALL_REDUCE, send.dtype(), count, op, 0, send.spi, recv.spi, send == recv), send, recv, timeout, inline);
    }

    /**
     * recv[i] := op over ranks of send[rank·recvCount + i], for i < recvCount; send holds
     * size·recvCount elements. In place (send == recv) the result lands at block {@code rank}.
     */
    public void reduceScatter(DeviceBuffer send, DeviceBuffer recv, long recvCount, ReduceOp op) {
        join(reduceScatter(send, recv, recvCount, op, defaultTimeout, true));
    }

    public CompletableFuture<Void> reduceScatterAsync(DeviceBuffer send, DeviceBuffer recv, long recvCount, ReduceOp op, Duration timeout) {
        return reduceScatter(send, recv, recvCount, op, timeout, false);
    }

    private CompletableFuture<Void> reduceScatter(DeviceBuffer send, DeviceBuffer recv, long recvCount, ReduceOp op, Duration timeout, boolean inline) {
        GemmChecks.requireNonNull(op, "op must not be null");
        long total = total(recvCount, "recvCount");
        checkBuffers(send, recv, recvCount, total, send == recv ? total : recvCount, timeout);
        checkOp(op, send.dtype());
        return submit(new CollectiveRequest(Kind.REDUCE_SCATTER, send.dtype(), recvCount, op, 0, send.spi, recv.spi, send == recv), send, recv, timeout, inline);
    }

    /**
     * recv[r·sendCount + i] := send of rank r [i]; recv holds size·sendCount elements. In place
     * (send == recv) this rank's input already sits at block {@code rank} of recv.
     */
    public void allGather(DeviceBuffer send, DeviceBuffer recv, long sendCount) {
        join(allGather(send, recv, sendCount, defaultTimeout, true));
    }

    public CompletableFuture<Void> allGatherAsync(DeviceBuffer send, DeviceBuffer recv, long sendCount, Duration timeout) {
        return allGather(send, recv, sendCount, timeout, false);
    }

    private CompletableFuture<Void> allGather(DeviceBuffer send, DeviceBuffer recv, long sendCount, Duration timeout, boolean inline) {
        long total = total(sendCount, "sendCount");
        checkBuffers(send, recv, sendCount, send == recv ? total : sendCount, total, timeout);
        return submit(new CollectiveRequest(Kind.ALL_GATHER, send.dtype(), sendCount, ReduceOp.SUM, 0, send.spi, recv.spi, send == recv), send, recv, timeout, inline);
    }

    /** recv[i] := send of rank {@code root} [i], for i < count. Only the root's send is read. */
    public void broadcast(DeviceBuffer send, DeviceBuffer recv, long count, int root) {
        join(broadcast(send, recv, count, root, defaultTimeout, true));
    }

    public CompletableFuture<Void> broadcastAsync(DeviceBuffer send, DeviceBuffer recv, long count, int root, Duration timeout) {
        return broadcast(send, recv, count, root, timeout, false);
    }

    private CompletableFuture<Void> broadcast(DeviceBuffer send, DeviceBuffer recv, long count, int root, Duration timeout, boolean inline) {
        if (root < 0 || root >= size()) {
            throw new IllegalArgumentException("root must be in [0, " + size() + "), got " + root);
        }
        checkBuffers(send, recv, count, count, count, timeout);
        return submit(new CollectiveRequest(Kind.BROADCAST, send.dtype(), count, ReduceOp.SUM, root, send.spi, recv.spi, send == recv), send, recv, timeout, inline);
    }

    /** Leaves the group. Ranks still waiting for this one fail at their deadline. Idempotent. */
    @Override
    public void close() {
        closed = true;
        queue.shutdown();
        bridge.forget(this);
    }

    private long total(long count, String name) {
        if (count < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + count);
        }
        try {
            return Math.multiplyExact(count, (long) size());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(name + " * ranks overflows a 64-bit element count: " + count + " * " + size());
        }
    }

    /** An integer average would need a rounding rule of its own; none is defined, so it is refused. */
    private static void checkOp(ReduceOp op, DType dtype) {
        if (op == ReduceOp.AVG && !dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("op AVG is not defined for " + dtype.label()
                    + ": integer reductions take SUM or PROD (both wrap around) or MIN or MAX");
        }
    }

    private void checkBuffers(DeviceBuffer send, DeviceBuffer recv, long count, long sendNeeds, long recvNeeds, Duration timeout) {
        if (closed) {
            throw new IllegalStateException("communicator rank " + rank + " is closed");
        }
        if (send == null) {
            throw new IllegalArgumentException("send must not be null");
        }
        if (recv == null) {
            throw new IllegalArgumentException("recv must not be null");
        }
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0, got " + count);
        }
        if (recv.dtype() != send.dtype()) {
            throw new IllegalArgumentException("recv must have the element type of send (" + send.dtype().label() + "), got " + recv.dtype().label());
        }
        if (send.length() < sendNeeds) {
            throw new IllegalArgumentException("send is too short: needs " + sendNeeds + " elements, has " + send.length());
        }
        if (recv.length() < recvNeeds) {
            throw new IllegalArgumentException("recv is too short: needs " + recvNeeds + " elements, has " + recv.length());
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be a positive duration, got " + timeout);
        }
        if (send.isClosed()) {
            throw new IllegalStateException("send is closed: " + send);
        }
        if (recv.isClosed()) {
            throw new IllegalStateException("recv is closed: " + recv);
        }
    }

    /**
     * Numbers the call and runs it after every earlier call of this rank: on the rank's thread, or —
     * for a blocking call with nothing queued — on the caller's thread. Handing a call to another
     * thread costs a wake-up, which on a host where every MPI rank spins on a core can take longer
     * than the collective itself.
     */
    private CompletableFuture<Void> submit(CollectiveRequest request, DeviceBuffer send, DeviceBuffer recv, Duration timeout, boolean inline) {
        Runnable release = Lifetime.acquireAll(bridge.lifetime, send.lifetime, recv.lifetime);
        long sequence;
        synchronized (this) {
            sequence = nextSequence++;
            if (inline && queued.get() == 0 && !closed) {
                running.lock(); // free or about to be: nothing earlier is queued
            } else {
                inline = false;
                queued.incrementAndGet();
            }
        }
        if (inline) {
            try {
                group.execute(member, sequence, request, timeout);
                return CompletableFuture.completedFuture(null);
            } catch (RuntimeException | Error e) {
                return CompletableFuture.failedFuture(e);
            } finally {
                running.unlock();
                release.run();
            }
        }
        try {
            return CompletableFuture.runAsync(() -> {
                running.lock();
                try {
                    group.execute(member, sequence, request, timeout);
                } finally {
                    running.unlock();
                    queued.decrementAndGet();
                    release.run();
                }
            }, queue);
        } catch (RuntimeException e) {
            queued.decrementAndGet();
            release.run();
            throw new IllegalStateException("communicator rank " + rank + " is closed", e);
        }
    }

    private static void join(CompletableFuture<Void> future) {
        try {
            future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }
}
