package dev.kernelbridge.mpi;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveMismatchException;
import dev.kernelbridge.CollectiveTimeoutException;
import dev.kernelbridge.DType;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.spi.Transport;
import dev.kernelbridge.spi.TransportCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * This process in an MPI job. Each call is two steps, both non-blocking and polled against the
 * call's deadline, so no call waits forever:
 * <ol>
 *   <li>Control: every rank sends a 48-byte header (sequence, kind, dtype, op, count, root) to
 *       every other rank on a private duplicate of MPI_COMM_WORLD. A header that does not arrive by
 *       the deadline names its rank; headers that differ are a mismatch, seen by every rank before
 *       any data moves.</li>
 *   <li>Data: the matching MPI collective on a second duplicate — blocking under a watchdog that
 *       aborts the job at the deadline (the default policy), or non-blocking and polled (policy
 *       throw), see {@link #move}.</li>
 * </ol>
 * After a failure the job cannot continue safely (a collective request cannot be cancelled);
 * by default the failure is printed and the job aborted with MPI_Abort (exit code
 * {@value #ABORT_CODE}); with {@code kernelbridge.mpi.on.failure=throw} the exception reaches the
 * caller instead. If MPI_Abort itself does not end the process within {@code kernelbridge.mpi.abort.timeout}
 * (a runtime that lost its launcher, a wedged network stack), a second deadline escalates: the last
 * {@value #RECORDED} collectives (a flight recorder: call number, what, when, how long, outcome) go
 * to stderr and the process halts with exit code {@value #ESCALATION_CODE}. A process launched into a
 * job of another size than {@code kernelbridge.mpi.world.size} refuses to join before any call.
 * Results are bitwise equal on every rank and, for a fixed job and count, from run
 * to run (MPI chooses its algorithm by size, so not across counts). BF16 and F16 reductions are
 * KernelBridge's own (see {@link #narrowAllReduce}): F32 in rank order, rounded once, so equal across
 * counts too. I32 reduces with MPI_INT, exact and wrapping mod 2^32 in any order. MPI counts are
 * ints: all-reduce and broadcast go in pieces of 2^30 elements (2^24 for BF16/F16); reduce-scatter
 * and all-gather beyond 2^31−1 elements per rank are refused, and BF16/F16 reduce-scatter beyond
 * 2^31−1 elements of input.
 */
final class MpiTransport implements Transport {
    static final int ABORT_CODE = 3;
    /** Six common longs (sequence, kind, dtype, op, count, root), then all-to-all's per-peer three (see WireHeader). */
    private static final long HEADER_LONGS = WireHeader.LONGS;
    private static final int COMMON_LONGS = WireHeader.COMMON;
    /** Exit code of a process whose MPI_Abort did not end it in time. */
    static final int ESCALATION_CODE = 5;
    /** Collectives kept by the flight recorder. */
    static final int RECORDED = 16;
    private static final long PIECE = 1L << 30;
    /** Elements of a BF16/F16 reduction per round: bounds its scratch to 32 MiB whatever the count. */
    private static final long NARROW_PIECE = 1L << 24;
    /** Elements folded at a time: the accumulator and one contribution stay in L1/L2. */
    private static final int FOLD_BLOCK = 4096;
    private static final long SPIN_NANOS = 20_000_000;

    private final MpiLibrary mpi;
    private final MpiAbi abi;
    private final boolean abortOnFailure;
    /** Most elements per rank pair, and per displacement, in one MPI_Alltoallv (kernelbridge.mpi.alltoall.piece). */
    private final long alltoallPiece;
    private final int rank;
    private final int size;
    private final String description;
    private final Arena arena = NativeMemory.shared();
    private final MemorySegment control;
    private final MemorySegment data;
    private final MemorySegment byteType;
    private boolean closed;
    /** The BF16/F16 reductions' receive area with the abort policy, grown on demand; calls come one at a time. */
    private MemorySegment scratch = MemorySegment.NULL;
    private Arena scratchArena;
    /** Injected (kernelbridge.mpi.faults=late-data:MS): this rank starts each data exchange so late. */
    private final long lateDataMillis;
    /** Memory of timed-out calls that MPI may still write; guarded by this. */
    private final Graveyard graveyard = new Graveyard();

    private final java.time.Duration abortTimeout;
    private final boolean abortHangs;
    /** The last {@link #RECORDED} calls, oldest first; guarded by itself. */
    private final java.util.ArrayDeque<Recorded> recorder = new java.util.ArrayDeque<>();

    /**
     * One collective in the flight recorder; {@code outcome} is null while it runs. It keeps the
     * header's longs and is put into words only when the record is printed: formatting on every
     * call cost more than a small collective itself.
     */
    private static final class Recorded {
        final long sequence;
        final long[] header;
        final long startNanos;
        volatile long endNanos;
        volatile String outcome;

        Recorded(long sequence, long[] header, long startNanos) {
            this.sequence = sequence;
            this.header = header;
            this.startNanos = startNanos;
        }
    }

    /**
     * The header exchange's native memory and request slots, kept between calls: calls on one
     * transport come one at a time ({@link #execute} is synchronized), and a fresh arena per call
     * cost a few microseconds. A call that leaves requests posted (a timeout, a failed post) retires
     * its state for a new one: MPI may still write into it, and only MPI_Finalize frees it.
     */
    private final class HeaderState {
        final MemorySegment sent = arena.allocate(ValueLayout.JAVA_LONG, HEADER_LONGS * size);
        final MemorySegment received = arena.allocate(ValueLayout.JAVA_LONG, HEADER_LONGS * size);
        /** 2·peer: the receive from peer; 2·peer + 1: the send to it; the own pair stays unused. */
        final MemorySegment[] requests = new MemorySegment[2 * size];
        /** The requests of the current call that MPI accepted: what a retired state must see complete. */
        final List<MemorySegment> posted = new ArrayList<>();

        HeaderState() {
            for (int i = 0; i < requests.length; i++) {
                requests[i] = arena.allocate(abi.handle());
            }
        }
    }

    private HeaderState headers;
    /** MPI_Test's outputs, written synchronously by each test under the monitor. */
    private final MemorySegment flag, status;

    MpiTransport(MpiLibrary mpi, MpiAbi abi, int threadLevel, boolean abortOnFailure, String version, int expectedSize,
                 java.time.Duration abortTimeout, boolean abortHangs, long alltoallPiece, long lateDataMillis) {
        this.alltoallPiece = alltoallPiece;
        this.lateDataMillis = lateDataMillis;
        this.mpi = mpi;
        this.abi = abi;
        this.abortOnFailure = abortOnFailure;
        this.abortTimeout = abortTimeout;
        this.abortHangs = abortHangs;
        MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
        mpi.run("MPI_Comm_rank", abi.commWorld(), out);
        this.rank = out.get(ValueLayout.JAVA_INT, 0);
        mpi.run("MPI_Comm_size", abi.commWorld(), out);
        this.size = out.get(ValueLayout.JAVA_INT, 0);
        if (expectedSize > 0 && expectedSize != size) {
            // Before any communicator or call: a process in the wrong job must not take part in its collectives.
            String message = String.format(Locale.ROOT, "MPI rank %d: this process expects a job of %d processes"
                    + " (kernelbridge.mpi.world.size) but was launched into one of %d; it does not join", rank, expectedSize, size);
            if (abortOnFailure) {
                abort(ABORT_CODE, message);
            }
            throw new IllegalStateException(message);
        }
        this.byteType = abi.byteType();
        this.headers = new HeaderState();
        this.flag = arena.allocate(ValueLayout.JAVA_INT);
        this.status = arena.allocate(abi.statusSize());
        this.control = duplicate();
        this.data = duplicate();
        this.description = version + ", rank " + rank + " of " + size + ", thread level " + MpiTransportProvider.threadLevelName(threadLevel);
    }

    /** A private communicator over the same processes; errors come back as codes, not a job abort. */
    private MemorySegment duplicate() {
        MemorySegment slot = arena.allocate(abi.handle());
        mpi.run("MPI_Comm_dup", abi.commWorld(), slot);
        MemorySegment comm = slot.get(ValueLayout.ADDRESS, 0);
        mpi.run("MPI_Comm_set_errhandler", comm, abi.errorsReturn());
        return comm;
    }

    @Override
    public int rank() { return rank; }

    @Override
    public int size() { return size; }

    @Override
    public String description() { return description; }

    @Override
    public synchronized void execute(TransportCall call, long deadlineNanos) {
        if (closed) {
            throw new IllegalStateException("MPI rank " + rank + ": this transport is closed");
        }
        graveyard.reap();
        if (graveyard.full()) {
            throw new CollectiveException(call.sequence(), String.format(Locale.ROOT, "MPI rank %d: %d timed-out calls are still in flight"
                    + " (%d bytes held for MPI); this transport takes no more calls: close the bridge and restart the job", rank,
                    graveyard.size(), graveyard.bytes()));
        }
        Recorded entry = new Recorded(call.sequence(), WireHeader.forPeer(call, rank, 0), System.nanoTime());
        synchronized (recorder) {
            if (recorder.size() == RECORDED) {
                recorder.removeFirst();
            }
            recorder.addLast(entry);
        }
        try {
            long largestBlock = exchangeHeaders(call, deadlineNanos);
            if (lateDataMillis > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(lateDataMillis * 1_000_000);
            }
            if (abortOnFailure) {
                runData(call, largestBlock, deadlineNanos, null);
            } else {
                // Non-blocking calls that can time out: MPI works only on memory of this call, kept
                // (retired) past a timeout until MPI is done with it, never on the caller's.
                try (CallArena a = new CallArena()) {
                    TransportCall staged = staged(call, a);
                    runData(staged, largestBlock, deadlineNanos, a);
                    NativeMemory.copyOfCallers(staged.recv(), 0, call.recv(), 0, call.recv().byteSize(), "recv");
                }
            }
            entry.endNanos = System.nanoTime();
            entry.outcome = "ok";
        } catch (RuntimeException e) {
            entry.endNanos = System.nanoTime();
            entry.outcome = e.getClass().getSimpleName() + ": " + e.getMessage();
            if (abortOnFailure && e instanceof CollectiveException) {
                abort(ABORT_CODE, e.getMessage());
            }
            throw e;
        }
    }

    /**
     * Sends every peer this call's header and checks theirs; returns the largest all-to-all block any
     * rank sends or receives (0 for other kinds), so that every rank splits the same way.
     */
    private long exchangeHeaders(TransportCall call, long deadline) {
        long largest = largestBlock(call);
        if (size == 1) {
            return largest;
        }
        long bytes = HEADER_LONGS * 8;
        HeaderState h = headers;
        for (int peer = 0; peer < size; peer++) {
            MemorySegment.copy(WireHeader.forPeer(call, peer, largest), 0, h.sent, ValueLayout.JAVA_LONG, peer * bytes, (int) HEADER_LONGS);
        }
        long[] mine = WireHeader.forPeer(call, rank, largest);
        int tag = (int) (call.sequence() % 30_000);
        boolean settled = false;
        try {
            for (int peer = 0; peer < size; peer++) {
                if (peer != rank) {
                    mpi.check("MPI_Irecv", mpi.point("MPI_Irecv", h.received.asSlice(peer * bytes, bytes), (int) bytes, byteType, peer, tag,
                            control, h.requests[2 * peer]));
                    h.posted.add(h.requests[2 * peer]);
                    mpi.check("MPI_Isend", mpi.point("MPI_Isend", h.sent.asSlice(peer * bytes, bytes), (int) bytes, byteType, peer, tag,
                            control, h.requests[2 * peer + 1]));
                    h.posted.add(h.requests[2 * peer + 1]);
                }
            }
            List<Integer> missing = notDone(waitAll(h, 0, deadline));
            if (!missing.isEmpty()) {
                throw new CollectiveTimeoutException(call.sequence(), missing, String.format(Locale.ROOT,
                        "MPI rank %d: %s call #%d timed out: rank(s) %s did not arrive within the deadline", rank, label(call),
                        call.sequence(), missing));
            }
            List<Integer> unsent = notDone(waitAll(h, 1, deadline));
            if (!unsent.isEmpty()) {
                throw new CollectiveTimeoutException(call.sequence(), unsent, String.format(Locale.ROOT,
                        "MPI rank %d: %s call #%d timed out: its header to rank(s) %s was not delivered within the deadline", rank,
                        label(call), call.sequence(), unsent));
            }
            settled = true;
        } finally {
            if (!settled) {
                // MPI may still write into h: it stays in the transport's arena until its requests complete.
                graveyard.retire(null, List.copyOf(h.posted), 2 * bytes * size);
                headers = new HeaderState();
            }
            h.posted.clear();
        }
        for (int peer = 0; peer < size; peer++) {
            if (peer == rank) {
                continue;
            }
            long[] theirs = h.received.asSlice(peer * bytes, bytes).toArray(ValueLayout.JAVA_LONG);
            if (!java.util.Arrays.equals(theirs, 0, COMMON_LONGS, mine, 0, COMMON_LONGS)) {
                throw new CollectiveMismatchException(call.sequence(), String.format(Locale.ROOT,
                        "MPI collective mismatch at call #%d: rank %d called %s but rank %d called %s", call.sequence(), rank,
                        WireHeader.describe(mine), peer, WireHeader.describe(theirs)));
            }
            if (call.kind() == TransportCall.Kind.ALL_TO_ALL_V) {
                // theirs[6]: what peer sends me; theirs[7]: what peer expects from me
                String pair = theirs[6] != call.recvCounts()[peer] ? pairText(call, peer, theirs[6], rank, call.recvCounts()[peer])
                        : theirs[7] != call.sendCounts()[peer] ? pairText(call, rank, call.sendCounts()[peer], peer, theirs[7]) : null;
                if (pair != null) {
                    throw new CollectiveMismatchException(call.sequence(), pair);
                }
            }
            largest = Math.max(largest, theirs[8]);
        }
        return largest;
    }

    /** The peers whose request is not done, in rank order. */
    private List<Integer> notDone(boolean[] done) {
        List<Integer> peers = new ArrayList<>();
        for (int peer = 0; peer < size; peer++) {
            if (!done[peer]) {
                peers.add(peer);
            }
        }
        return peers;
    }

    private static String pairText(TransportCall call, int from, long sends, int to, long expects) {
        return String.format(Locale.ROOT, "MPI allToAll mismatch at call #%d: rank %d sends %d elements to rank %d, but rank %d expects %d from rank %d",
                call.sequence(), from, sends, to, to, expects, from);
    }

    private static long largestBlock(TransportCall call) {
        long largest = 0;
        if (call.kind() == TransportCall.Kind.ALL_TO_ALL_V) {
            for (int q = 0; q < call.sendCounts().length; q++) {
                largest = Math.max(largest, Math.max(call.sendCounts()[q], call.recvCounts()[q]));
            }
        }
        return largest;
    }

    /**
     * All-to-all-v with 64-bit counts over MPI's int counts and displacements. When every block fits
     * in one MPI call ({@link #alltoallPiece} elements per rank pair, displacements within it too),
     * one MPI_Alltoallv on the caller's memory. Otherwise rounds: in round k every pair moves the k-th
     * piece of its block (at most {@code piece} elements, so that the packed displacements stay ints),
     * packed contiguously into scratch and unpacked on arrival. The number of rounds comes from the
     * largest block of any rank (exchanged in the header), so every rank makes the same MPI calls.
     */
    private void allToAllV(TransportCall call, long largestBlock, long deadline, CallArena callArena) {
        if (largestBlock == 0) {
            return; // every rank saw the same headers: nobody moves anything
        }
        long es = call.dtype().byteSize();
        MemorySegment type = abi.datatype(call.dtype());
        long piece = Math.max(1, Math.min(alltoallPiece, Integer.MAX_VALUE / size));
        long rounds = (largestBlock + piece - 1) / piece;
        try (Arena own = callArena == null ? NativeMemory.confined() : null) {
            Arena a = callArena == null ? own : callArena;
            MemorySegment sc = a.allocate(ValueLayout.JAVA_INT, size), sd = a.allocate(ValueLayout.JAVA_INT, size);
            MemorySegment rc = a.allocate(ValueLayout.JAVA_INT, size), rd = a.allocate(ValueLayout.JAVA_INT, size);
            if (rounds == 1 && fitsInts(call.sendCounts(), call.sendDispls()) && fitsInts(call.recvCounts(), call.recvDispls())) {
                for (int q = 0; q < size; q++) {
                    sc.setAtIndex(ValueLayout.JAVA_INT, q, (int) call.sendCounts()[q]);
                    sd.setAtIndex(ValueLayout.JAVA_INT, q, (int) call.sendDispls()[q]);
                    rc.setAtIndex(ValueLayout.JAVA_INT, q, (int) call.recvCounts()[q]);
                    rd.setAtIndex(ValueLayout.JAVA_INT, q, (int) call.recvDispls()[q]);
                }
                move(call, deadline, a, "MPI_Alltoallv", "MPI_Ialltoallv", call.send(), sc, sd, type, call.recv(), rc, rd, type, data);
                return;
            }
            MemorySegment out = a.allocate(Math.max(1, size * piece * es), 64), in = a.allocate(Math.max(1, size * piece * es), 64);
            for (long k = 0; k < rounds; k++) {
                int sendAt = 0, recvAt = 0;
                for (int q = 0; q < size; q++) {
                    int s = (int) Math.clamp(call.sendCounts()[q] - k * piece, 0, piece);
                    int r = (int) Math.clamp(call.recvCounts()[q] - k * piece, 0, piece);
                    if (s > 0) {
                        MemorySegment.copy(call.send(), (call.sendDispls()[q] + k * piece) * es, out, sendAt * es, s * es);
                    }
                    sc.setAtIndex(ValueLayout.JAVA_INT, q, s);
                    sd.setAtIndex(ValueLayout.JAVA_INT, q, sendAt);
                    rc.setAtIndex(ValueLayout.JAVA_INT, q, r);
                    rd.setAtIndex(ValueLayout.JAVA_INT, q, recvAt);
                    sendAt += s;
                    recvAt += r;
                }
                move(call, deadline, a, "MPI_Alltoallv", "MPI_Ialltoallv", out, sc, sd, type, in, rc, rd, type, data);
                for (int q = 0; q < size; q++) {
                    int r = rc.getAtIndex(ValueLayout.JAVA_INT, q);
                    if (r > 0) {
                        MemorySegment.copy(in, rd.getAtIndex(ValueLayout.JAVA_INT, q) * es, call.recv(), (call.recvDispls()[q] + k * piece) * es, r * es);
                    }
                }
            }
        }
    }

    /** True when every block, displacement and end fits the per-call limit (MPI's ints, or the test knob). */
    private boolean fitsInts(long[] counts, long[] displs) {
        for (int q = 0; q < counts.length; q++) {
            if (displs[q] + counts[q] > alltoallPiece) {
                return false;
            }
        }
        return true;
    }

    /** The data step; {@code callArena} is the throw policy's memory of this call, null with the abort policy. */
    private void runData(TransportCall call, long largestBlock, long deadline, CallArena callArena) {
        if (call.kind() == TransportCall.Kind.ALL_TO_ALL_V) {
            allToAllV(call, largestBlock, deadline, callArena);
            return;
        }
        DType dtype = call.dtype();
        long es = dtype.byteSize();
        MemorySegment type = abi.datatype(dtype);
        MemorySegment op = abi.op(call.op());
        if (call.kind() == TransportCall.Kind.ALL_REDUCE && !dtype.isNarrowFloat()) {
            allReduce(call, type, op, deadline, callArena); // the hot path: no arena, no boxing with the abort policy
            return;
        }
        try (Arena own = callArena == null ? NativeMemory.confined() : null) {
            Arena a = callArena == null ? own : callArena;
            if (dtype.isNarrowFloat() && call.kind() == TransportCall.Kind.ALL_REDUCE) {
                narrowAllReduce(call, deadline, a);
                return;
            }
            if (dtype.isNarrowFloat() && call.kind() == TransportCall.Kind.REDUCE_SCATTER) {
                narrowReduceScatter(call, deadline, a);
                return;
            }
            switch (call.kind()) {
                case REDUCE_SCATTER -> {
                    int n = intCount(call.count(), call);
                    // MPI's in-place form leaves the result at block 0; ours keeps it at block rank.
                    MemorySegment target = call.inPlace() ? a.allocate(Math.max(1, n * es), 64).asSlice(0, n * es) : call.recv();
                    move(call, deadline, a, "MPI_Reduce_scatter_block", "MPI_Ireduce_scatter_block", call.send(), target, n, type, op, data);
                    if (call.op() == ReduceOp.AVG) {
                        divide(target, dtype, n, size);
                    }
                    if (call.inPlace()) {
                        MemorySegment.copy(target, 0, call.recv(), rank * n * es, n * es);
                    }
                }
                case ALL_GATHER -> {
                    int n = intCount(call.count(), call);
                    MemorySegment send = call.inPlace() ? abi.inPlace() : call.send();
                    move(call, deadline, a, "MPI_Allgather", "MPI_Iallgather", send, n, type, call.recv(), n, type, data);
                }
                case BROADCAST -> {
                    if (rank == call.root() && !call.inPlace() && call.count() > 0) {
                        MemorySegment.copy(call.send(), 0, call.recv(), 0, call.count() * es);
                    }
                    for (long done = 0; done < call.count(); done += PIECE) {
                        int n = (int) Math.min(PIECE, call.count() - done);
                        move(call, deadline, a, "MPI_Bcast", "MPI_Ibcast", call.recv().asSlice(done * es, n * es), n, type, call.root(), data);
                    }
                }
            }
        }
    }

    /**
     * F32, F64 and I32 all-reduce in pieces MPI's int counts can hold: with the abort policy the
     * blocking call under the watchdog, unboxed and without an arena; else {@link #move}'s polled form.
     */
    private void allReduce(TransportCall call, MemorySegment type, MemorySegment op, long deadline, CallArena callArena) {
        long es = call.dtype().byteSize();
        for (long done = 0; done < call.count(); done += PIECE) {
            int n = (int) Math.min(PIECE, call.count() - done);
            MemorySegment recv = call.recv().asSlice(done * es, n * es);
            MemorySegment send = call.inPlace() ? abi.inPlace() : call.send().asSlice(done * es, n * es);
            if (callArena != null) {
                move(call, deadline, callArena, "MPI_Allreduce", "MPI_Iallreduce", send, recv, n, type, op, data);
                continue;
            }
            watchdog.arm(deadline, call);
            try {
                mpi.check("MPI_Allreduce", mpi.allreduce(send, recv, n, type, op, data));
            } finally {
                watchdog.disarm();
            }
        }
        if (call.op() == ReduceOp.AVG) {
            divide(call.recv(), call.dtype(), call.count(), size);
        }
    }

    /**
     * BF16/F16 all-reduce. MPI has no bfloat16 and reduces in an order of its choosing, so here it
     * only moves bits: per round of at most {@link #NARROW_PIECE} elements, rank r receives share r of
     * every rank's input (MPI_Alltoallv), folds the contributions of ranks 0…N−1 in F32, rounds once
     * into its share of recv, and the ranks then gather the shares (MPI_Allgatherv, in place). Every
     * element is folded the same way whatever the count and the round, so the bits do not depend on
     * the message size. Alltoallv plus Allgatherv moves what a ring all-reduce moves.
     */
    private void narrowAllReduce(TransportCall call, long deadline, Arena a) {
        MemorySegment type = abi.datatype(call.dtype());
        MemorySegment sendCounts = a.allocate(ValueLayout.JAVA_INT, size), sendDispls = a.allocate(ValueLayout.JAVA_INT, size);
        MemorySegment recvCounts = a.allocate(ValueLayout.JAVA_INT, size), recvDispls = a.allocate(ValueLayout.JAVA_INT, size);
        for (long done = 0; done < call.count(); done += NARROW_PIECE) {
            int n = (int) Math.min(NARROW_PIECE, call.count() - done);
            MemorySegment send = call.send().asSlice(done * 2, n * 2L); // in place, send is recv
            MemorySegment recv = call.recv().asSlice(done * 2, n * 2L);
            int mine = shareLength(n, rank);
            for (int r = 0; r < size; r++) {
                sendCounts.setAtIndex(ValueLayout.JAVA_INT, r, shareLength(n, r));
                sendDispls.setAtIndex(ValueLayout.JAVA_INT, r, shareStart(n, r));
                recvCounts.setAtIndex(ValueLayout.JAVA_INT, r, mine);
                recvDispls.setAtIndex(ValueLayout.JAVA_INT, r, r * mine);
            }
            MemorySegment contributions = scratch((long) size * mine * 2, a);
            move(call, deadline, a, "MPI_Alltoallv", "MPI_Ialltoallv", send, sendCounts, sendDispls, type,
                    contributions, recvCounts, recvDispls, type, data);
            // Every rank's input for this round has arrived, so recv (possibly the input) may be written.
            fold(call.dtype(), call.op(), contributions, mine, recv.asSlice(shareStart(n, rank) * 2L, mine * 2L));
            move(call, deadline, a, "MPI_Allgatherv", "MPI_Iallgatherv", abi.inPlace(), 0, type, recv, sendCounts, sendDispls, type, data);
        }
    }

    /**
     * BF16/F16 reduce-scatter, as {@link #narrowAllReduce} without the gather: per round, rank r
     * receives the next elements of block r from every rank (the send displacements are ints, hence
     * the limit on the input) and folds them into its result.
     */
    private void narrowReduceScatter(TransportCall call, long deadline, Arena a) {
        long count = call.count();
        if (count * size > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException(label(call) + " of " + call.dtype().label() + " across MPI processes takes at most "
                    + Integer.MAX_VALUE + " input elements (MPI displacements are ints), got " + count + " per rank on " + size + " ranks");
        }
        MemorySegment type = abi.datatype(call.dtype());
        MemorySegment counts = a.allocate(ValueLayout.JAVA_INT, size), sendDispls = a.allocate(ValueLayout.JAVA_INT, size);
        MemorySegment recvDispls = a.allocate(ValueLayout.JAVA_INT, size);
        MemorySegment result = call.inPlace() ? call.recv().asSlice(rank * count * 2, count * 2) : call.recv();
        long round = Math.max(1, NARROW_PIECE / size);
        for (long done = 0; done < count; done += round) {
            int n = (int) Math.min(round, count - done);
            for (int r = 0; r < size; r++) {
                counts.setAtIndex(ValueLayout.JAVA_INT, r, n);
                sendDispls.setAtIndex(ValueLayout.JAVA_INT, r, (int) (r * count));
                recvDispls.setAtIndex(ValueLayout.JAVA_INT, r, r * n);
            }
            MemorySegment contributions = scratch((long) size * n * 2, a);
            // In place, this round writes only elements of block rank that every rank has already sent.
            move(call, deadline, a, "MPI_Alltoallv", "MPI_Ialltoallv", call.send().asSlice(done * 2), counts, sendDispls, type,
                    contributions, counts, recvDispls, type, data);
            fold(call.dtype(), call.op(), contributions, n, result.asSlice(done * 2, n * 2L));
        }
    }

    /** Start of share {@code part} of {@code n} elements split as evenly as possible (the in-process group's split). */
    private int shareStart(int n, int part) {
        return n / size * part + Math.min(part, n % size);
    }

    private int shareLength(int n, int part) {
        return shareStart(n, part + 1) - shareStart(n, part);
    }

    /** Receive area of a narrow reduction: the call's own memory under the throw policy, else the transport's, reused. */
    private MemorySegment scratch(long bytes, Arena a) {
        if (a instanceof CallArena call) {
            return call.scratch(bytes);
        }
        if (scratch.byteSize() < bytes) {
            if (scratchArena != null) {
                scratchArena.close(); // the blocking call that used it returned
            }
            scratchArena = NativeMemory.shared();
            scratch = scratchArena.allocate(bytes, 64);
        }
        return scratch.asSlice(0, bytes);
    }

    /** The caller's buffers copied into memory of {@code a}: send (unless in place) and recv, whose untouched parts must stay as they are. */
    private static TransportCall staged(TransportCall call, CallArena a) {
        MemorySegment recv = a.allocate(Math.max(1, call.recv().byteSize()), 64).asSlice(0, call.recv().byteSize());
        NativeMemory.copyOfCallers(call.recv(), 0, recv, 0, recv.byteSize(), "recv");
        MemorySegment send = recv;
        if (!call.inPlace() && !call.send().equals(call.recv())) {
            send = a.allocate(Math.max(1, call.send().byteSize()), 64).asSlice(0, call.send().byteSize());
            NativeMemory.copyOfCallers(call.send(), 0, send, 0, send.byteSize(), "send");
        }
        return new TransportCall(call.sequence(), call.kind(), call.dtype(), call.op(), call.count(), call.root(), send, recv, call.inPlace(),
                call.sendCounts(), call.sendDispls(), call.recvCounts(), call.recvDispls());
    }

    /**
     * A throw-policy call's native memory. Closing frees it unless a request MPI accepted has not
     * been seen complete (a timeout): then the memory goes to the graveyard, since MPI may still
     * write into it, and is freed once that request completes.
     */
    private final class CallArena implements Arena {
        private final Arena memory = NativeMemory.shared();
        private final List<MemorySegment> pending = new ArrayList<>();
        private long bytes;
        /** The narrow reductions' receive area, reused round after round of this call. */
        private MemorySegment scratch = MemorySegment.NULL;

        MemorySegment scratch(long size) {
            if (scratch.byteSize() < size) {
                scratch = allocate(size, 64);
            }
            return scratch.asSlice(0, size);
        }

        @Override
        public MemorySegment allocate(long byteSize, long byteAlignment) {
            bytes += byteSize;
            return memory.allocate(byteSize, byteAlignment);
        }

        @Override
        public MemorySegment.Scope scope() { return memory.scope(); }

        void posted(MemorySegment request) { pending.add(request); }

        void completed(MemorySegment request) { pending.removeIf(r -> r == request); }

        @Override
        public void close() {
            if (pending.isEmpty()) {
                memory.close();
            } else {
                graveyard.retire(memory, List.copyOf(pending), bytes);
            }
        }
    }

    /**
     * Memory of calls that timed out while MPI held requests on it. Each later call first tests those
     * requests (MPI_Test also drives MPI's progress) and frees what is done; what is still pending
     * when the transport closes is never freed, and keeps MPI_Finalize from running (it must not run
     * while a request is pending). Bounded: past {@value #MAX_RETIRED} retired calls the transport
     * refuses further calls. Accessed under the transport's monitor.
     */
    private final class Graveyard {
        static final int MAX_RETIRED = 16;

        /** {@code memory} null: it belongs to the transport's own arena. */
        private record Retired(Arena memory, List<MemorySegment> requests, long bytes) { }

        private final List<Retired> retired = new ArrayList<>();
        private long bytes;

        void retire(Arena memory, List<MemorySegment> requests, long bytes) {
            retired.add(new Retired(memory, requests, bytes));
            this.bytes += bytes;
            System.getLogger(MpiTransport.class.getName()).log(System.Logger.Level.DEBUG,
                    "MPI rank {0}: {1} bytes retired until MPI completes a timed-out call", rank, bytes);
        }

        /** Frees the memory of retired calls whose requests have all completed. */
        void reap() {
            for (var it = retired.iterator(); it.hasNext(); ) {
                Retired r = it.next();
                boolean done = true;
                for (MemorySegment request : r.requests()) {
                    int code = mpi.test(request, flag, status);
                    done &= code == 0 && flag.get(ValueLayout.JAVA_INT, 0) != 0;
                }
                if (done) {
                    it.remove();
                    bytes -= r.bytes();
                    if (r.memory() != null) {
                        r.memory().close();
                    }
                }
            }
        }

        boolean full() { return retired.size() >= MAX_RETIRED; }

        int size() { return retired.size(); }

        long bytes() { return bytes; }
    }

    /**
     * out := the {@code size} contributions of {@code len} elements each (rank 0's first) widened to
     * F32 and folded in rank order, avg then divided by the number of ranks, rounded once to
     * {@code dtype}. min and max are Math.min and Math.max, as in every other reduction here.
     */
    private void fold(DType dtype, ReduceOp op, MemorySegment contributions, int len, MemorySegment out) {
        float[] acc = new float[Math.min(FOLD_BLOCK, len)], x = new float[acc.length];
        for (int at = 0; at < len; at += FOLD_BLOCK) {
            int n = Math.min(FOLD_BLOCK, len - at);
            widen(dtype, contributions, at, acc, n);
            for (int q = 1; q < size; q++) {
                widen(dtype, contributions, (long) q * len + at, x, n);
                switch (op) {
                    case SUM, AVG -> { for (int i = 0; i < n; i++) { acc[i] += x[i]; } }
                    case PROD -> { for (int i = 0; i < n; i++) { acc[i] *= x[i]; } }
                    case MIN -> { for (int i = 0; i < n; i++) { acc[i] = Math.min(acc[i], x[i]); } }
                    case MAX -> { for (int i = 0; i < n; i++) { acc[i] = Math.max(acc[i], x[i]); } }
                }
            }
            if (op == ReduceOp.AVG) {
                float ranks = size;
                for (int i = 0; i < n; i++) {
                    acc[i] /= ranks;
                }
            }
            if (dtype == DType.BF16) {
                for (int i = 0; i < n; i++) {
                    out.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, at + i, NarrowFloat.toBf16(acc[i]));
                }
            } else {
                for (int i = 0; i < n; i++) {
                    out.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, at + i, NarrowFloat.toF16(acc[i]));
                }
            }
        }
    }

    /** x[0…n) := elements [from, from+n) of {@code s}, widened exactly (NarrowFloat, as every other path). */
    private static void widen(DType dtype, MemorySegment s, long from, float[] x, int n) {
        if (dtype == DType.BF16) {
            for (int i = 0; i < n; i++) {
                x[i] = NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, from + i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                x[i] = NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, from + i));
            }
        }
    }

    private int intCount(long count, TransportCall call) {
        if (count > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException(label(call) + " across MPI processes takes at most " + Integer.MAX_VALUE
                    + " elements per rank (MPI counts are ints), got " + count);
        }
        return (int) count;
    }

    /**
     * Moves the data of one collective. With the abort policy: the blocking MPI call, fastest (Open
     * MPI's non-blocking collectives take up to twice as long at 2 ranks), under a watchdog that
     * aborts the job at the deadline — so it still cannot hang. With the throw policy: the
     * non-blocking call, polled against the deadline, so that the caller gets the exception.
     */
    private void move(TransportCall call, long deadline, Arena a, String blocking, String nonBlocking, Object... args) {
        if (abortOnFailure) {
            watchdog.arm(deadline, call);
            try {
                mpi.run(blocking, args);
            } finally {
                watchdog.disarm();
            }
            return;
        }
        CallArena memory = (CallArena) a;
        MemorySegment req = a.allocate(abi.handle());
        Object[] withRequest = java.util.Arrays.copyOf(args, args.length + 1);
        withRequest[args.length] = req;
        mpi.run(nonBlocking, withRequest);
        memory.posted(req);
        complete(req, call, deadline);
        memory.completed(req);
    }

    private final Watchdog watchdog = new Watchdog();

    private String dataTimeout(TransportCall call) {
        return String.format(Locale.ROOT, "MPI rank %d: %s call #%d timed out in the data exchange (every rank had arrived)",
                rank, label(call), call.sequence());
    }

    /**
     * Aborts the job when a blocking call outlives its deadline. It sleeps until the armed deadline
     * and is woken only when a call arms an earlier one: a wake-up per call would cost more than
     * the call on a host where every MPI rank spins on a core.
     */
    private final class Watchdog {
        private volatile long deadline = Long.MAX_VALUE;
        /** The call under watch, or null when disarmed. */
        private volatile TransportCall what;
        private volatile long sleepingUntil = Long.MAX_VALUE;
        private Thread thread;

        synchronized void arm(long deadline, TransportCall what) {
            this.deadline = deadline; // before the call: a watchdog waking in between must not pair it with an old deadline
            this.what = what;
            if (thread == null) {
                thread = Thread.ofPlatform().daemon().name("kernelbridge-mpi-watchdog").start(this::watch);
            } else if (deadline - sleepingUntil < 0) {
                java.util.concurrent.locks.LockSupport.unpark(thread);
            }
        }

        void disarm() {
            what = null;
        }

        private void watch() {
            while (true) {
                var w = what;
                long now = System.nanoTime();
                if (w != null && now - deadline > 0) {
                    abort(ABORT_CODE, dataTimeout(w));
                }
                // Sleep to the armed deadline (re-read after waking), or a while when disarmed.
                long until = w != null ? deadline : now + 1_000_000_000L;
                sleepingUntil = until;
                java.util.concurrent.locks.LockSupport.parkNanos(Math.max(1_000_000, until - now));
            }
        }
    }

    /**
     * Polls the header requests of every peer, receives ({@code parity} 0) or sends (1), until all
     * completed or the deadline; returns which peers' requests completed (by peer).
     */
    private boolean[] waitAll(HeaderState h, int parity, long deadline) {
        boolean[] done = new boolean[size];
        done[rank] = true;
        poll(size - 1, deadline, peer -> done[peer] ? null : h.requests[2 * peer + parity], done);
        return done;
    }

    /** Polls one request until done; past the deadline every rank had arrived, so none is named. */
    private void complete(MemorySegment request, TransportCall call, long deadline) {
        boolean[] done = new boolean[1];
        poll(1, deadline, i -> done[0] ? null : request, done);
        if (!done[0]) {
            throw new CollectiveTimeoutException(call.sequence(), List.of(), String.format(Locale.ROOT,
                    "MPI rank %d: %s call #%d timed out in the data exchange (every rank had arrived)", rank, label(call), call.sequence()));
        }
    }

    /**
     * Polls with MPI_Test (which also drives MPI's progress) the {@code pending} requests that
     * {@code requests} gives for the indices of {@code done} (null once done) until all completed or
     * the deadline; spins first, since most calls finish within microseconds, then sleeps briefly.
     */
    private void poll(int pending, long deadline, java.util.function.IntFunction<MemorySegment> requests, boolean[] done) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (pending > 0) {
            for (int i = 0; i < done.length; i++) {
                MemorySegment request = requests.apply(i);
                if (request == null) {
                    continue;
                }
                int code = mpi.test(request, flag, status);
                if (code != 0) {
                    throw new MpiLibrary.MpiException("MPI_Test", code, mpi.errorString(code));
                }
                if (flag.get(ValueLayout.JAVA_INT, 0) != 0) {
                    done[i] = true;
                    pending--;
                }
            }
            if (pending == 0) {
                break;
            }
            long now = System.nanoTime();
            if (now - deadline >= 0) {
                break;
            }
            if (now - spinUntil < 0) {
                Thread.yield(); // ranks may share cores (mpirun --oversubscribe): let a peer run
            } else {
                java.util.concurrent.locks.LockSupport.parkNanos(50_000);
            }
        }
    }

    private static void divide(MemorySegment buf, DType dtype, long count, int ranks) {
        for (long i = 0; i < count; i++) {
            if (dtype == DType.F32) {
                buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, buf.getAtIndex(ValueLayout.JAVA_FLOAT, i) / (float) ranks);
            } else {
                buf.setAtIndex(ValueLayout.JAVA_DOUBLE, i, buf.getAtIndex(ValueLayout.JAVA_DOUBLE, i) / (double) ranks);
            }
        }
    }

    private static String label(TransportCall call) {
        return switch (call.kind()) {
            case ALL_REDUCE -> "allReduce";
            case REDUCE_SCATTER -> "reduceScatter";
            case ALL_GATHER -> "allGather";
            case BROADCAST -> "broadcast";
            case ALL_TO_ALL_V -> "allToAll";
        };
    }

    @Override
    public void abort(int exitCode, String message) {
        System.err.println("kernelbridge: " + message + "; aborting the MPI job (exit code " + exitCode
                + "; set kernelbridge.mpi.on.failure=throw to handle failures yourself)");
        System.err.flush();
        escalateAfter(abortTimeout);
        if (abortHangs) { // injected (kernelbridge.mpi.faults=abort-hangs): an MPI_Abort that never returns
            while (true) {
                java.util.concurrent.locks.LockSupport.park(this);
            }
        }
        mpi.call("MPI_Abort", abi.commWorld(), exitCode);
    }

    /**
     * The second deadline (R34): MPI_Abort normally ends this process; if it is still alive after
     * {@code timeout}, the flight recorder goes to stderr and the process halts with
     * {@value #ESCALATION_CODE}, so that a stuck abort never becomes a hung job.
     */
    private void escalateAfter(java.time.Duration timeout) {
        long until = System.nanoTime() + timeout.toNanos();
        Thread.ofPlatform().daemon().name("kernelbridge-mpi-abort-escalation").start(() -> {
            for (long left; (left = until - System.nanoTime()) > 0; ) {
                java.util.concurrent.locks.LockSupport.parkNanos(left);
            }
            System.err.println("kernelbridge: MPI rank " + rank + ": MPI_Abort did not end the process within " + timeout
                    + "; exiting with code " + ESCALATION_CODE + ". " + flightRecord());
            System.err.flush();
            Runtime.getRuntime().halt(ESCALATION_CODE);
        });
    }

    /** The flight recorder as text: the last calls on the world communicator, oldest first. */
    String flightRecord() {
        long now = System.nanoTime();
        StringBuilder b = new StringBuilder();
        synchronized (recorder) {
            b.append(String.format(Locale.ROOT, "Last %d collective(s) of MPI rank %d of %d (MPI_COMM_WORLD):", recorder.size(), rank, size));
            for (Recorded r : recorder) {
                String outcome = r.outcome;
                b.append(String.format(Locale.ROOT, "%n  #%d %s: started %d ms ago, %s", r.sequence, WireHeader.describe(r.header), (now - r.startNanos) / 1_000_000,
                        outcome == null ? "still running" : "took " + (r.endNanos - r.startNanos) / 1_000_000 + " ms, " + outcome));
            }
        }
        return b.toString();
    }

    /** Bytes this transport holds for timed-out calls that MPI may still write. */
    @Override
    public synchronized long retiredBytes() {
        graveyard.reap();
        return graveyard.bytes();
    }

    /**
     * Frees this transport's communicators and memory, unless a timed-out call is still in flight:
     * then everything stays (MPI may write into it) and MPI is not finalized by anyone.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        graveyard.reap();
        boolean clean = graveyard.size() == 0;
        if (clean) {
            try (Arena a = NativeMemory.confined()) {
                for (MemorySegment comm : List.of(control, data)) {
                    MemorySegment slot = a.allocate(abi.handle());
                    slot.set(ValueLayout.ADDRESS, 0, comm);
                    mpi.call("MPI_Comm_free", slot);
                }
            }
            arena.close();
            if (scratchArena != null) {
                scratchArena.close();
            }
        } else {
            System.getLogger(MpiTransport.class.getName()).log(System.Logger.Level.WARNING, String.format(Locale.ROOT,
                    "MPI rank %d: %d timed-out call(s) still in flight at close (%d bytes kept for MPI); MPI_Finalize will not run in this"
                            + " process, and mpirun may report that it exited without it", rank, graveyard.size(), graveyard.bytes()));
        }
        MpiTransportProvider.release(clean);
    }

}
