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

    /** recv[i] := op over ranks of send[i], for {@code i < count}. send == recv is in place. */
    public void allReduce(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op) {
        join(allReduce(send, recv, count, op, defaultTimeout, true));
    }

    public CompletableFuture<Void> allReduceAsync(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op, Duration timeout) {
        return allReduce(send, recv, count, op, timeout, false);
    }

    private CompletableFuture<Void> allReduce(DeviceBuffer send, DeviceBuffer recv, long count, ReduceOp op, Duration timeout, boolean inline) {
        GemmChecks.requireNonNull(op, "op must not be null");
        checkBuffers(send, recv, count, count, count, timeout);
        checkReducible(send.dtype(), op);
        return submit(new CollectiveRequest(Kind.ALL_REDUCE, send.dtype(), count, op, 0, send.spi, recv.spi, send == recv), send, recv, timeout, inline);
    }

    /**
     * recv[i] := op over ranks of send[rank·recvCount + i], for {@code i < recvCount}; send holds
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
        checkReducible(send.dtype(), op);
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

    /** recv[i] := send of rank {@code root} [i], for {@code i < count}. Only the root's send is read. */
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

    /**
     * All-to-all with equal blocks: block j of send ({@code countPerPeer} elements at j·countPerPeer)
     * goes to rank j, and block i of recv receives rank i's block for this rank. send and recv hold
     * size·countPerPeer elements and must be different buffers. Moves bytes: exact for every type.
     */
    public void allToAll(DeviceBuffer send, DeviceBuffer recv, long countPerPeer) {
        join(allToAllAsync(send, recv, countPerPeer, defaultTimeout, true));
    }

    public CompletableFuture<Void> allToAllAsync(DeviceBuffer send, DeviceBuffer recv, long countPerPeer, Duration timeout) {
        return allToAllAsync(send, recv, countPerPeer, timeout, false);
    }

    private CompletableFuture<Void> allToAllAsync(DeviceBuffer send, DeviceBuffer recv, long countPerPeer, Duration timeout, boolean inline) {
        if (countPerPeer < 0) {
            throw new IllegalArgumentException("countPerPeer must be >= 0, got " + countPerPeer);
        }
        total(countPerPeer, "countPerPeer");
        long[] counts = new long[size()], displs = new long[size()];
        for (int j = 0; j < counts.length; j++) {
            counts[j] = countPerPeer;
            displs[j] = j * countPerPeer;
        }
        return allToAllV(send, counts, displs, recv, counts.clone(), displs.clone(), timeout, inline);
    }

    /**
     * All-to-all with a block per peer, MPI_Alltoallv style, in elements with 64-bit counts: this
     * rank sends {@code sendCounts[j]} elements from {@code send} at {@code sendDispls[j]} to rank j,
     * and receives {@code recvCounts[i]} elements from rank i into {@code recv} at
     * {@code recvDispls[i]}. What rank i sends to j must be what j expects from i; otherwise every rank
     * fails with a {@link CollectiveMismatchException} naming both, before any data moves. Elements of
     * recv outside its blocks are not written. Zero counts are legal; send blocks may overlap, recv
     * blocks may not, and send and recv must be different buffers.
     */
    public void allToAllV(DeviceBuffer send, long[] sendCounts, long[] sendDispls, DeviceBuffer recv, long[] recvCounts, long[] recvDispls) {
        join(allToAllV(send, sendCounts, sendDispls, recv, recvCounts, recvDispls, defaultTimeout, true));
    }

    public CompletableFuture<Void> allToAllVAsync(DeviceBuffer send, long[] sendCounts, long[] sendDispls, DeviceBuffer recv,
                                                  long[] recvCounts, long[] recvDispls, Duration timeout) {
        return allToAllV(send, sendCounts, sendDispls, recv, recvCounts, recvDispls, timeout, false);
    }

    private CompletableFuture<Void> allToAllV(DeviceBuffer send, long[] sendCounts, long[] sendDispls, DeviceBuffer recv,
                                              long[] recvCounts, long[] recvDispls, Duration timeout, boolean inline) {
        checkBuffers(send, recv, 0, 0, 0, timeout);
        if (send == recv) {
            throw new IllegalArgumentException("recv must not be send: allToAll is not in place");
        }
        // Copies: the caller may reuse its arrays as soon as the call returns, even for the async form.
        long[] sc = blockArray(sendCounts, "sendCounts"), sd = blockArray(sendDispls, "sendDispls");
        long[] rc = blockArray(recvCounts, "recvCounts"), rd = blockArray(recvDispls, "recvDispls");
        checkBlocks(sc, sd, "send", send.length());
        checkBlocks(rc, rd, "recv", recv.length());
        Integer[] order = new Integer[size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, java.util.Comparator.comparingLong(i -> rd[i]));
        int previous = -1;
        for (int i : order) {
            if (rc[i] == 0) {
                continue;
            }
            if (previous >= 0 && rd[previous] + rc[previous] > rd[i]) {
                throw new IllegalArgumentException("recv blocks must not overlap: block " + previous + " [" + rd[previous] + ", "
                        + (rd[previous] + rc[previous]) + ") and block " + i + " [" + rd[i] + ", " + (rd[i] + rc[i]) + ")");
            }
            previous = i;
        }
        var blocks = new CollectiveRequest.Blocks(sc, sd, rc, rd);
        return submit(CollectiveRequest.allToAll(send.dtype(), send.spi, recv.spi, blocks), send, recv, timeout, inline);
    }

    private long[] blockArray(long[] a, String name) {
        if (a == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (a.length != size()) {
            throw new IllegalArgumentException(name + " must have one entry per rank (" + size() + "), has " + a.length);
        }
        return a.clone();
    }

    /** Every block non-negative and inside its buffer of {@code length} elements. */
    private static void checkBlocks(long[] counts, long[] displs, String buffer, long length) {
        for (int j = 0; j < counts.length; j++) {
            if (counts[j] < 0) {
                throw new IllegalArgumentException(buffer + "Counts[" + j + "] must be >= 0, got " + counts[j]);
            }
            if (displs[j] < 0) {
                throw new IllegalArgumentException(buffer + "Displs[" + j + "] must be >= 0, got " + displs[j]);
            }
            if (counts[j] > length || displs[j] > length - counts[j]) {
                throw new IllegalArgumentException(buffer + " block " + j + " must lie inside " + buffer + ": " + buffer + "Displs[" + j + "] + "
                        + buffer + "Counts[" + j + "] = " + displs[j] + " + " + counts[j] + " > " + length + " elements");
            }
        }
    }

    /**
     * Every rank's {@code mine}, indexed by rank: the per-expert (or per-peer) token counts an MoE
     * layer exchanges before its all-to-all, so that each rank can derive what it will receive. All
     * ranks must pass arrays of the same length (else {@link CollectiveMismatchException}). An
     * all-gather of the counts' bytes on this rank's device, under the default deadline.
     */
    public long[][] exchangeCounts(long[] mine) {
        if (mine == null) {
            throw new IllegalArgumentException("mine must not be null");
        }
        long bytes = (long) mine.length * Long.BYTES;
        // An all-gather copies bits whatever the type: carry the bytes in one the device declares.
        DType carrier = device.supports(DType.I8) ? DType.I8 : device.supports(DType.F64) ? DType.F64 : DType.F32;
        long elements = bytes / carrier.byteSize();
        try (DeviceBuffer send = bridge.allocate(device, carrier, Math.max(1, elements));
             DeviceBuffer recv = bridge.allocate(device, carrier, Math.max(1, elements * size()))) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(mine);
            send.copyFrom(0, java.lang.foreign.MemorySegment.ofArray(b.array()));
            allGather(send, recv, elements);
            byte[] all = new byte[(int) (bytes * size())];
            recv.copyTo(0, java.lang.foreign.MemorySegment.ofArray(all));
            java.nio.LongBuffer in = java.nio.ByteBuffer.wrap(all).order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            long[][] out = new long[size()][mine.length];
            for (long[] row : out) {
                in.get(row);
            }
            return out;
        }
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

    /**
     * Floats reduce with every op (BF16 and F16 in F32, rounded once); I32 with sum, prod, min and max
     * (wrapping, so any order gives the same bits); I8 only moves (all-gather, broadcast).
     */
    private static void checkReducible(DType dtype, ReduceOp op) {
        if (dtype == DType.I8) {
            throw new IllegalArgumentException("send must hold a reducible type (f32, f64, bf16, f16, i32), got i8; i8 only moves with allGather and broadcast");
        }
        if (dtype == DType.I32 && op == ReduceOp.AVG) {
            throw new IllegalArgumentException("op avg is not defined for i32 (an integer mean would round); use sum and divide");
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
