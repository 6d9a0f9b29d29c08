package dev.kernelbridge.internal.collective;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.HostBuffer;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.spi.Transport;
import dev.kernelbridge.spi.TransportCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;

/**
 * Ranks across processes: this process holds {@code L} consecutive ranks (one per local device),
 * rank = process rank · L + member, and the {@link Transport} (MPI) connects the processes. With
 * one local rank every call goes straight to the transport, device buffers staged through host
 * memory. With several it is hierarchical: combine locally, exchange across processes from the
 * local leader (member 0), hand the result back locally — so the transport carries each byte once
 * per process, not once per device. Every process must hold the same number of local ranks. The
 * local steps of call s are numbered 4s … 4s+3 in the in-process group, so they stay in step.
 */
public final class DistributedGroup implements CollectiveGroup {
    private final Transport transport;
    private final int local;
    private final InProcessGroup localGroup;
    private volatile MemorySegment leaderStage;
    private volatile CollectiveException aborted;

    public DistributedGroup(Transport transport, List<BackendDevice> localDevices) {
        this.transport = transport;
        this.local = localDevices.size();
        this.localGroup = local > 1 ? new InProcessGroup(localDevices) : null;
    }

    @Override
    public int size() { return transport.size() * local; }

    /** This process's first rank. */
    public int firstRank() { return transport.rank() * local; }

    @Override
    public void abort(CollectiveException cause) {
        aborted = cause;
        if (localGroup != null) {
            localGroup.abort(cause);
        }
    }

    @Override
    public void execute(int member, long sequence, CollectiveRequest request, Duration timeout) {
        if (aborted != null) {
            throw aborted;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            if (request.kind() == CollectiveRequest.Kind.ALL_TO_ALL) {
                allToAll(member, sequence, request, deadline);
            } else if (local == 1) {
                direct(sequence, request, deadline);
            } else {
                hierarchical(member, sequence, request, deadline);
            }
        } catch (CollectiveException e) {
            abort(e);
            throw e;
        }
    }

    /** One local rank: the request goes to the transport as it is, staged if not host-visible. */
    private void direct(long sequence, CollectiveRequest req, long deadline) {
        long es = req.dtype().byteSize();
        long sendElements = switch (req.kind()) {
            case REDUCE_SCATTER -> req.count() * transport.size();
            default -> req.count();
        };
        long recvElements = switch (req.kind()) {
            case ALL_GATHER -> req.count() * transport.size();
            case REDUCE_SCATTER -> req.inPlace() ? req.count() * transport.size() : req.count();
            default -> req.count();
        };
        boolean hostVisible = req.send().hostSegment().isPresent() && req.recv().hostSegment().isPresent();
        try (Arena staging = hostVisible ? null : NativeMemory.confined()) {
            MemorySegment send = view(req.send(), sendElements * es, staging, true);
            MemorySegment recv = req.inPlace() ? send : view(req.recv(), recvElements * es, staging, req.kind() == CollectiveRequest.Kind.ALL_GATHER);
            transport.execute(new TransportCall(sequence, kind(req.kind()), req.dtype(), req.op(), req.count(), req.root(),
                    send, recv, req.inPlace()), deadline);
            if (req.recv().hostSegment().isEmpty()) {
                req.recv().copyIn(0, recv);
            }
        }
    }

    /**
     * Several local ranks: (1) the local ranks combine into the leader's stage with the in-process
     * group, (2) the leader runs the transport call for the whole process, (3) the leader's result
     * goes back to every local rank.
     */
    private void hierarchical(int member, long sequence, CollectiveRequest req, long deadline) {
        if (req.dtype().isNarrowFloat() && req.kind() != CollectiveRequest.Kind.ALL_GATHER && req.kind() != CollectiveRequest.Kind.BROADCAST) {
            gatherThenFold(member, sequence, req, deadline);
            return;
        }
        DType dtype = req.dtype();
        long es = dtype.byteSize();
        int processes = transport.size();
        long count = req.count();
        switch (req.kind()) {
            case ALL_REDUCE -> {
                ReduceOp combine = req.op() == ReduceOp.AVG ? ReduceOp.SUM : req.op();
                // (1) local combine into recv of every local rank
                localGroup.execute(member, 4 * sequence, new CollectiveRequest(CollectiveRequest.Kind.ALL_REDUCE, dtype, count, combine, 0,
                        req.send(), req.recv(), req.inPlace()), remaining(deadline));
                // (2) leader: across processes, then avg divides once so every rank gets the same bits
                if (member == 0) {
                    try (Arena staging = req.recv().hostSegment().isPresent() ? null : NativeMemory.confined()) {
                        MemorySegment buf = view(req.recv(), count * es, staging, true);
                        transport.execute(new TransportCall(sequence, TransportCall.Kind.ALL_REDUCE, dtype, combine, count, 0, buf, buf, true), deadline);
                        if (req.op() == ReduceOp.AVG) {
                            divide(buf, dtype, count, (long) processes * local);
                        }
                        if (req.recv().hostSegment().isEmpty()) {
                            req.recv().copyIn(0, buf);
                        }
                    }
                }
                // (3) local broadcast of the leader's recv (in place on every rank)
                localGroup.execute(member, 4 * sequence + 1, new CollectiveRequest(CollectiveRequest.Kind.BROADCAST, dtype, count, ReduceOp.SUM, 0,
                        req.recv(), req.recv(), true), remaining(deadline));
            }
            case ALL_GATHER -> {
                long block = count * local;
                HostBuffer stage = stageFor(block * processes * es);
                // (1) the local inputs, in member order, into the leader's stage at this process's block
                BackendBuffer input = req.inPlace() ? hostBlock(member, req.recv(), (long) (firstRank() + member) * count * es, count * es) : req.send();
                BackendBuffer target = member == 0 ? slice(stage, (long) transport.rank() * block * es, block * es) : scratch(member, block * es);
                localGroup.execute(member, 4 * sequence, new CollectiveRequest(CollectiveRequest.Kind.ALL_GATHER, dtype, count, ReduceOp.SUM, 0,
                        input, target, false), remaining(deadline));
                if (member == 0) { // (2) blocks of whole processes across processes, in place
                    transport.execute(new TransportCall(sequence, TransportCall.Kind.ALL_GATHER, dtype, req.op(), block, 0,
                            stage.segment(), stage.segment(), true), deadline);
                }
                fromLeader(member, sequence, req.recv(), 0, 0, block * processes * es, deadline);
            }
            case REDUCE_SCATTER -> {
                long total = count * local * processes, mine = count * local;
                ReduceOp combine = req.op() == ReduceOp.AVG ? ReduceOp.SUM : req.op();
                HostBuffer stage = stageFor((total + mine) * es);
                // (1) local combine of the whole input into the leader's stage
                localGroup.execute(member, 4 * sequence, new CollectiveRequest(CollectiveRequest.Kind.ALL_REDUCE, dtype, total, combine, 0,
                        req.send(), member == 0 ? slice(stage, 0, total * es) : scratch(member, total * es), false), remaining(deadline));
                if (member == 0) { // (2) process p keeps blocks p·L … p·L+L−1, after the input in the stage
                    MemorySegment all = stage.segment();
                    MemorySegment result = all.asSlice(total * es, mine * es);
                    transport.execute(new TransportCall(sequence, TransportCall.Kind.REDUCE_SCATTER, dtype, combine, mine, 0,
                            all.asSlice(0, total * es), result, false), deadline);
                    if (req.op() == ReduceOp.AVG) {
                        divide(result, dtype, mine, (long) processes * local);
                    }
                }
                long at = req.inPlace() ? (long) (firstRank() + member) * count * es : 0;
                fromLeader(member, sequence, req.recv(), at, (total + (long) member * count) * es, count * es, deadline);
            }
            case BROADCAST -> {
                int rootProcess = req.root() / local, rootMember = req.root() % local;
                HostBuffer stage = stageFor(count * es);
                if (transport.rank() == rootProcess) { // (1) the root's data into the leader's stage
                    localGroup.execute(member, 4 * sequence, new CollectiveRequest(CollectiveRequest.Kind.BROADCAST, dtype, count, ReduceOp.SUM,
                            rootMember, req.send(), member == 0 ? stage : scratch(member, count * es), false), remaining(deadline));
                }
                if (member == 0) { // (2) from the root's process to every leader
                    transport.execute(new TransportCall(sequence, TransportCall.Kind.BROADCAST, dtype, req.op(), count, rootProcess,
                            stage.segment(), stage.segment(), true), deadline);
                }
                fromLeader(member, sequence, req.recv(), 0, 0, count * es, deadline);
            }
        }
    }

    /** The local ranks' all-to-all requests, posted for the leader (slot = member). */
    private volatile CollectiveRequest[] localPosts;

    /**
     * All-to-all across processes. The leader (member 0, or the only local rank) first all-gathers
     * every rank's send and receive counts over the transport and checks every pair (so every process
     * fails with the same {@link dev.kernelbridge.CollectiveMismatchException} naming both ranks
     * before any data moves), then runs one transport all-to-all-v for the whole process.
     *
     * <p>Cost: one small all-gather (2·size longs per rank) per call. With one local rank and
     * host-visible buffers the data goes straight between the user's buffers; otherwise the leader
     * packs every local rank's blocks into one host buffer per call, ordered by (destination rank,
     * source rank), and unpacks what arrives — two extra host copies of every byte, and blocks between
     * ranks of the same process travel through the transport's self-copy. Simple and correct; a
     * local shortcut is an optimisation left for later.
     */
    private void allToAll(int member, long sequence, CollectiveRequest req, long deadline) {
        if (local > 1) {
            synchronized (this) {
                if (localPosts == null) {
                    localPosts = new CollectiveRequest[local];
                }
            }
            localPosts[member] = req;
            barrier(member, 4 * sequence, deadline); // every local request is posted
        }
        if (member == 0) {
            try {
                leaderAllToAll(sequence, req.dtype(), local > 1 ? localPosts.clone() : new CollectiveRequest[] {req}, deadline);
            } catch (CollectiveException e) {
                throw e; // execute aborts this group, which wakes the local ranks with it
            } catch (RuntimeException e) {
                if (localGroup != null) { // otherwise the local ranks would wait for their deadline
                    CollectiveException broken = new CollectiveException(sequence, "allToAll #" + sequence + " failed on the leader of process "
                            + transport.rank() + ": " + e);
                    broken.initCause(e);
                    localGroup.abort(broken);
                }
                throw e;
            }
        }
        if (local > 1) {
            barrier(member, 4 * sequence + 1, deadline); // the leader has written every local recv
        }
    }

    private void leaderAllToAll(long sequence, DType dtype, CollectiveRequest[] mine, long deadline) {
        int ranks = size(), processes = transport.size();
        long es = dtype.byteSize();
        // (1) every rank's counts, and the pair check
        long rowBytes = 2L * ranks * Long.BYTES;
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment rows = arena.allocate(Math.max(1, rowBytes * local), 8);
            for (int m = 0; m < local; m++) {
                MemorySegment.copy(mine[m].blocks().sendCounts(), 0, rows, ValueLayout.JAVA_LONG, m * rowBytes, ranks);
                MemorySegment.copy(mine[m].blocks().recvCounts(), 0, rows, ValueLayout.JAVA_LONG, m * rowBytes + rowBytes / 2, ranks);
            }
            MemorySegment all = arena.allocate(Math.max(1, rowBytes * ranks), 8);
            transport.execute(new TransportCall(sequence, TransportCall.Kind.ALL_GATHER, DType.I8, ReduceOp.SUM, rowBytes * local, 0,
                    rows.asSlice(0, rowBytes * local), all.asSlice(0, rowBytes * ranks), false), deadline);
            long[][] sent = new long[ranks][], expected = new long[ranks][];
            for (int g = 0; g < ranks; g++) {
                sent[g] = all.asSlice(g * rowBytes, rowBytes / 2).toArray(ValueLayout.JAVA_LONG);
                expected[g] = all.asSlice(g * rowBytes + rowBytes / 2, rowBytes / 2).toArray(ValueLayout.JAVA_LONG);
            }
            String mismatch = CollectiveRequest.pairMismatch(sequence, sent, expected);
            if (mismatch != null) {
                throw new dev.kernelbridge.CollectiveMismatchException(sequence, mismatch);
            }
            // (2) the data
            CollectiveRequest only = mine[0];
            if (local == 1 && only.send().hostSegment().isPresent() && only.recv().hostSegment().isPresent()) {
                CollectiveRequest.Blocks b = only.blocks();
                transport.execute(TransportCall.allToAllV(sequence, dtype, only.send().hostSegment().get(), b.sendCounts(), b.sendDispls(),
                        only.recv().hostSegment().get(), b.recvCounts(), b.recvDispls()), deadline);
                return;
            }
            long[] sc = new long[processes], sd = new long[processes], rc = new long[processes], rd = new long[processes];
            long sendTotal = 0, recvTotal = 0;
            for (int q = 0; q < processes; q++) {
                sd[q] = sendTotal;
                rd[q] = recvTotal;
                for (int to = 0; to < local; to++) {
                    for (int from = 0; from < local; from++) {
                        sc[q] += mine[from].blocks().sendCounts()[q * local + to];
                        rc[q] += mine[to].blocks().recvCounts()[q * local + from];
                    }
                }
                sendTotal += sc[q];
                recvTotal += rc[q];
            }
            MemorySegment packed = arena.allocate(Math.max(1, sendTotal * es), 64);
            MemorySegment arrived = arena.allocate(Math.max(1, recvTotal * es), 64);
            HostBuffer packedBuffer = HostBuffer.wrap(packed), arrivedBuffer = HostBuffer.wrap(arrived);
            long at = 0;
            for (int q = 0; q < processes; q++) {
                for (int to = 0; to < local; to++) {
                    for (int from = 0; from < local; from++) {
                        CollectiveRequest.Blocks b = mine[from].blocks();
                        long n = b.sendCounts()[q * local + to] * es;
                        InProcessGroup.copyBlock(null, mine[from].send(), b.sendDispls()[q * local + to] * es, packedBuffer, at, n);
                        at += n;
                    }
                }
            }
            transport.execute(TransportCall.allToAllV(sequence, dtype, packed.asSlice(0, sendTotal * es), sc, sd,
                    arrived.asSlice(0, recvTotal * es), rc, rd), deadline);
            at = 0;
            for (int p = 0; p < processes; p++) {
                for (int to = 0; to < local; to++) {
                    CollectiveRequest.Blocks b = mine[to].blocks();
                    for (int from = 0; from < local; from++) {
                        long n = b.recvCounts()[p * local + from] * es;
                        InProcessGroup.copyBlock(null, arrivedBuffer, at, mine[to].recv(), b.recvDispls()[p * local + from] * es, n);
                        at += n;
                    }
                }
            }
        }
    }

    /**
     * Waits for the leader, copies {@code bytes} of its stage from {@code from} into {@code recv} at
     * {@code at}, and waits again so that the leader does not reuse the stage while others read it.
     */
    /**
     * BF16/F16 reductions with several local ranks: combining locally first would fold out of rank
     * order and round twice. Instead every rank gathers every rank's input (the all-gather moves
     * bytes, exactly) and folds its part in rank order in F32, rounding once: the bits of one rank
     * per process, at N times the traffic.
     */
    private void gatherThenFold(int member, long sequence, CollectiveRequest req, long deadline) {
        long es = req.dtype().byteSize();
        int ranks = size();
        long perRank = req.kind() == CollectiveRequest.Kind.REDUCE_SCATTER ? req.count() * ranks : req.count();
        try (Arena arena = NativeMemory.shared()) {
            MemorySegment all = arena.allocate(Math.max(1, perRank * ranks * es), 64);
            BackendBuffer input = req.send();
            hierarchical(member, sequence, new CollectiveRequest(CollectiveRequest.Kind.ALL_GATHER, req.dtype(), perRank, ReduceOp.SUM, 0,
                    input, HostBuffer.wrap(all), false), deadline);
            long from = req.kind() == CollectiveRequest.Kind.REDUCE_SCATTER ? (long) (firstRank() + member) * req.count() : 0;
            List<BackendBuffer> ins = new java.util.ArrayList<>(ranks);
            for (int r = 0; r < ranks; r++) {
                ins.add(HostBuffer.wrap(all.asSlice((r * perRank + from) * es, req.count() * es)));
            }
            long at = req.kind() == CollectiveRequest.Kind.REDUCE_SCATTER && req.inPlace() ? from * es : 0;
            InProcessGroup.fold(req.dtype(), req.op(), ins, 0, List.of(req.recv()), at, req.count());
        }
    }

    private void fromLeader(int member, long sequence, BackendBuffer recv, long at, long from, long bytes, long deadline) {
        barrier(member, 4 * sequence + 2, deadline);
        copyInto(recv, at, leaderStage.asSlice(from, bytes));
        barrier(member, 4 * sequence + 3, deadline);
    }

    private void barrier(int member, long localSequence, long deadline) {
        HostBuffer none = HostBuffer.wrap(MemorySegment.NULL);
        localGroup.execute(member, localSequence, new CollectiveRequest(CollectiveRequest.Kind.BROADCAST, DType.F32, 0, ReduceOp.SUM, 0,
                none, none, true), remaining(deadline));
    }

    /** The leader's stage of at least {@code bytes}; every member gets a view of the same memory. */
    private HostBuffer stageFor(long bytes) {
        synchronized (this) {
            if (leaderStage == null || leaderStage.byteSize() < bytes) {
                leaderStage = Arena.ofAuto().allocate(Math.max(64, bytes), 64);
            }
            return HostBuffer.wrap(leaderStage.asSlice(0, bytes));
        }
    }

    private final java.util.Map<Integer, MemorySegment> scratch = new java.util.concurrent.ConcurrentHashMap<>();

    /** A member's own throwaway output buffer for local steps whose result only the leader keeps. */
    private HostBuffer scratch(int member, long bytes) {
        MemorySegment s = scratch.compute(member, (m, old) -> old != null && old.byteSize() >= bytes ? old : Arena.ofAuto().allocate(Math.max(64, bytes), 64));
        return HostBuffer.wrap(s.asSlice(0, bytes));
    }

    private static BackendBuffer slice(HostBuffer b, long offset, long bytes) {
        return HostBuffer.wrap(b.segment().asSlice(offset, bytes));
    }

    /** {@code bytes} of {@code b} at {@code offset} as host memory: a view, or a copy in the member's scratch. */
    private BackendBuffer hostBlock(int member, BackendBuffer b, long offset, long bytes) {
        var host = b.hostSegment();
        if (host.isPresent()) {
            return HostBuffer.wrap(host.get().asSlice(offset, bytes));
        }
        HostBuffer copy = scratch(-1 - member, bytes);
        b.copyOut(offset, copy.segment());
        return copy;
    }

    private static void copyInto(BackendBuffer target, long at, MemorySegment source) {
        var host = target.hostSegment();
        if (host.isPresent()) {
            MemorySegment.copy(source, 0, host.get(), at, source.byteSize());
        } else {
            target.copyIn(at, source);
        }
    }

    private static MemorySegment view(BackendBuffer buffer, long bytes, Arena staging, boolean copyContents) {
        var host = buffer.hostSegment();
        if (host.isPresent()) {
            return host.get().asSlice(0, bytes);
        }
        MemorySegment copy = staging.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        if (copyContents && bytes > 0) {
            buffer.copyOut(0, copy);
        }
        return copy;
    }

    private static void divide(MemorySegment buf, DType dtype, long count, long ranks) {
        for (long i = 0; i < count; i++) {
            if (dtype == DType.F32) {
                buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, buf.getAtIndex(ValueLayout.JAVA_FLOAT, i) / (float) ranks);
            } else {
                buf.setAtIndex(ValueLayout.JAVA_DOUBLE, i, buf.getAtIndex(ValueLayout.JAVA_DOUBLE, i) / (double) ranks);
            }
        }
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
    }

    private static TransportCall.Kind kind(CollectiveRequest.Kind k) {
        return switch (k) {
            case ALL_REDUCE -> TransportCall.Kind.ALL_REDUCE;
            case REDUCE_SCATTER -> TransportCall.Kind.REDUCE_SCATTER;
            case ALL_GATHER -> TransportCall.Kind.ALL_GATHER;
            case BROADCAST -> TransportCall.Kind.BROADCAST;
            case ALL_TO_ALL -> TransportCall.Kind.ALL_TO_ALL_V;
        };
    }
}
