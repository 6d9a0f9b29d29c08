package dev.kernelbridge.internal.collective;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveMismatchException;
import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/**
 * Collectives among ranks of one process, one thread per rank, over memory the host can address.
 *
 * <p>Each call is two barriers. At the first every rank has posted its request; the requests are
 * compared (a mismatch fails every rank with the same words). Between the barriers rank r owns the
 * r-th share of the data: it reads that share from every rank's input and writes the result into
 * every rank's output, so every byte is read once and written once per rank and no two ranks touch
 * the same bytes (which also makes in-place calls safe). Reductions combine ranks in the fixed
 * order 0, 1, …, N−1, and the result is computed once and copied, so every rank holds the same
 * bits, for every count and every run. The second barrier lets no rank return while others still
 * write to its output. Buffers that are not host-visible are staged through host memory.
 */
public final class InProcessGroup {
    /** Elements reduced per step: small enough that the step's temporaries stay in L1/L2. */
    private static final int STEP = 16384;

    private final int size;
    private final Rendezvous rendezvous;
    private final Post[] posts;

    private record Post(long sequence, CollectiveRequest request, MemorySegment send, MemorySegment recv) { }

    public InProcessGroup(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("ranks must be >= 1, got " + size);
        }
        this.size = size;
        this.rendezvous = new Rendezvous(size);
        this.posts = new Post[size];
    }

    public int size() { return size; }

    /** Runs rank {@code rank}'s part of call number {@code sequence}; blocks until all ranks are done. */
    public void execute(int rank, long sequence, CollectiveRequest request, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String what = request.kind().label();
        // Staging is for buffers the host cannot address; closing a shared arena costs a handshake
        // with every thread, so host-visible calls must not create one.
        boolean hostVisible = request.send().hostSegment().isPresent() && request.recv().hostSegment().isPresent();
        Arena staging = hostVisible ? null : Arena.ofShared();
        try {
            MemorySegment send = hostView(request.send(), staging, true);
            MemorySegment recv = request.recv() == request.send() ? send : hostView(request.recv(), staging, false);
            posts[rank] = new Post(sequence, request, send, recv);
            rendezvous.await(rank, sequence, what, deadline);
            checkAgreement(sequence);
            runShare(rank);
            rendezvous.await(rank, sequence, what, deadline);
            if (request.recv().hostSegment().isEmpty()) {
                request.recv().copyIn(0, recv);
            }
        } finally {
            if (staging != null) {
                staging.close();
            }
        }
    }

    /** Fails every later call on every rank with {@code cause} (used when a rank gives up). */
    public void abort(CollectiveException cause) {
        rendezvous.abort(cause);
    }

    private static MemorySegment hostView(BackendBuffer buffer, Arena staging, boolean copyContents) {
        var host = buffer.hostSegment();
        if (host.isPresent()) {
            return host.get();
        }
        MemorySegment copy = staging.allocate(buffer.byteSize(), 64);
        if (copyContents) {
            buffer.copyOut(0, copy);
        }
        return copy;
    }

    private void checkAgreement(long sequence) {
        Post first = posts[0];
        for (int r = 1; r < size; r++) {
            Post p = posts[r];
            if (p.sequence() != first.sequence() || !p.request().fingerprint().equals(first.request().fingerprint())) {
                CollectiveMismatchException e = new CollectiveMismatchException(sequence,
                        "collective mismatch at call #" + sequence + ": rank 0 called " + first.request().fingerprint()
                                + " (call #" + first.sequence() + ") but rank " + r + " called " + p.request().fingerprint()
                                + " (call #" + p.sequence() + ")");
                rendezvous.abort(e);
                throw e;
            }
        }
    }

    /** This rank's share of the work: elements [lo, hi) of the per-kind index space. */
    private void runShare(int rank) {
        CollectiveRequest req = posts[rank].request();
        long es = req.dtype().byteSize();
        long count = req.count();
        switch (req.kind()) {
            case ALL_REDUCE -> {
                long lo = share(count, rank), hi = share(count, rank + 1);
                reduce(req.dtype(), req.op(), lo * es, lo * es, hi - lo, null);
            }
            case REDUCE_SCATTER -> {
                // Rank r produces block r: read block r of every input, write it to rank r's output.
                long from = rank * count * es;
                long to = req.inPlace() ? from : 0;
                reduce(req.dtype(), req.op(), from, to, count, posts[rank]);
            }
            case ALL_GATHER -> {
                Post mine = posts[rank];
                MemorySegment input = req.inPlace() ? mine.recv().asSlice(rank * count * es, count * es) : mine.send().asSlice(0, count * es);
                for (Post p : posts) {
                    if (!(req.inPlace() && p == mine)) {
                        MemorySegment.copy(input, 0, p.recv(), rank * count * es, count * es);
                    }
                }
            }
            case BROADCAST -> {
                long lo = share(count, rank), hi = share(count, rank + 1);
                MemorySegment source = posts[req.root()].send();
                for (Post p : posts) {
                    if (p.recv() != source) {
                        MemorySegment.copy(source, lo * es, p.recv(), lo * es, (hi - lo) * es);
                    }
                }
            }
        }
    }

    /** Start of share {@code part} of {@code count} elements split over the ranks as evenly as possible. */
    private long share(long count, int part) {
        return count / size * part + Math.min(part, count % size);
    }

    /**
     * Reduces {@code n} elements starting at byte {@code from} of every rank's input in rank order,
     * writing the result at byte {@code to} of every output (or only of {@code only}'s).
     */
    private void reduce(DType dtype, ReduceOp op, long from, long to, long n, Post only) {
        if (dtype == DType.F32) {
            float[] acc = new float[(int) Math.min(STEP, n)], next = new float[acc.length];
            for (long done = 0; done < n; done += STEP) {
                int len = (int) Math.min(STEP, n - done);
                long src = from + done * 4, dst = to + done * 4;
                MemorySegment.copy(posts[0].send(), ValueLayout.JAVA_FLOAT_UNALIGNED, src, acc, 0, len);
                for (int r = 1; r < size; r++) {
                    MemorySegment.copy(posts[r].send(), ValueLayout.JAVA_FLOAT_UNALIGNED, src, next, 0, len);
                    ReduceKernels.combine(op, acc, next, len);
                }
                if (op == ReduceOp.AVG) {
                    ReduceKernels.divide(acc, size, len);
                }
                for (Post p : posts) {
                    if (only == null || p == only) {
                        MemorySegment.copy(acc, 0, p.recv(), ValueLayout.JAVA_FLOAT_UNALIGNED, dst, len);
                    }
                }
            }
        } else {
            double[] acc = new double[(int) Math.min(STEP, n)], next = new double[acc.length];
            for (long done = 0; done < n; done += STEP) {
                int len = (int) Math.min(STEP, n - done);
                long src = from + done * 8, dst = to + done * 8;
                MemorySegment.copy(posts[0].send(), ValueLayout.JAVA_DOUBLE_UNALIGNED, src, acc, 0, len);
                for (int r = 1; r < size; r++) {
                    MemorySegment.copy(posts[r].send(), ValueLayout.JAVA_DOUBLE_UNALIGNED, src, next, 0, len);
                    ReduceKernels.combine(op, acc, next, len);
                }
                if (op == ReduceOp.AVG) {
                    ReduceKernels.divide(acc, size, len);
                }
                for (Post p : posts) {
                    if (only == null || p == only) {
                        MemorySegment.copy(acc, 0, p.recv(), ValueLayout.JAVA_DOUBLE_UNALIGNED, dst, len);
                    }
                }
            }
        }
    }
}
