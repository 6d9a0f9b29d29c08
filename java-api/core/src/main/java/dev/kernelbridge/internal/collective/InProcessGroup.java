package dev.kernelbridge.internal.collective;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveMismatchException;
import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceCollectives;
import dev.kernelbridge.spi.HostBuffer;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
 * write to its output.
 *
 * <p>Where the data lives: host-visible buffers are used in place. When every rank's device can
 * address every other rank's buffers (devices of one OpenCL context), reductions run on the
 * devices: rank r's device folds share r with the kernels of reduce.cl ({@link BackendDevice#reduce}),
 * shares then start at multiples of {@value #DEVICE_SHARE_UNIT} elements so that the devices can
 * address them as sub-buffers. Otherwise device buffers are staged through host memory. Every path
 * gives the same bits.
 */
public final class InProcessGroup implements CollectiveGroup {
    /** Elements reduced per step: small enough that the step's temporaries stay in L1/L2. */
    private static final int STEP = 16384;
    /** F32/F64 sums over host memory fold in one vector pass ({@link VectorSumF32}, {@link VectorSumF64}) where the Vector API is readable. */
    private static final boolean FUSED = ModuleLayer.boot().findModule("jdk.incubator.vector")
            .map(m -> InProcessGroup.class.getModule().canRead(m)).orElse(false);

    /** Device shares start at multiples of this many elements (sub-buffer alignment on any device). */
    static final long DEVICE_SHARE_UNIT = 1024;

    private final int size;
    private final List<BackendDevice> devices;
    private final boolean reduceOnDevices;
    private final Rendezvous rendezvous;
    private final Post[] posts;
    /** Each rank's fold space (only that rank's thread touches its slot). */
    private final ReduceKernels.Lanes[] lanes;
    /** A vendor engine for all-reduce (opt-in), or null. */
    private final DeviceCollectives vendor;

    private record Post(long sequence, CollectiveRequest request, MemorySegment send, MemorySegment recv) { }

    /** A group with rank r on {@code devices.get(r)}. */
    public InProcessGroup(List<BackendDevice> devices) {
        this(devices, null);
    }

    /** A group whose all-reduces go to {@code vendor} where it supports them (null: none). */
    public InProcessGroup(List<BackendDevice> devices, DeviceCollectives vendor) {
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("ranks must be >= 1, got 0");
        }
        this.size = devices.size();
        this.devices = List.copyOf(devices);
        boolean peers = devices.stream().noneMatch(BackendDevice::sharesHostMemory);
        for (BackendDevice d : devices) {
            for (BackendDevice other : devices) {
                peers &= d.addresses(other);
            }
        }
        this.reduceOnDevices = peers;
        this.rendezvous = new Rendezvous(size);
        this.posts = new Post[size];
        this.lanes = new ReduceKernels.Lanes[size];
        this.vendor = vendor;
    }

    @Override
    public int size() { return size; }

    /** Runs rank {@code rank}'s part of call number {@code sequence}; blocks until all ranks are done. */
    @Override
    public void execute(int rank, long sequence, CollectiveRequest request, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String what = request.kind().label();
        if (request.kind() == CollectiveRequest.Kind.ALL_TO_ALL) {
            executeAllToAll(rank, sequence, request, deadline);
            return;
        }
        if (vendor != null && request.kind() == CollectiveRequest.Kind.ALL_REDUCE && vendor.supports(request.op(), request.dtype())) {
            executeOnVendor(rank, sequence, request, deadline);
            return;
        }
        // Staging is for buffers the host cannot address; closing a shared arena costs a handshake
        // with every thread, so host-visible calls must not create one.
        boolean onDevices = reduceOnDevices && (request.kind() == CollectiveRequest.Kind.ALL_REDUCE
                || request.kind() == CollectiveRequest.Kind.REDUCE_SCATTER);
        boolean hostVisible = request.send().hostSegment().isPresent() && request.recv().hostSegment().isPresent();
        Arena staging = hostVisible || onDevices ? null : NativeMemory.shared();
        try {
            MemorySegment send = onDevices ? null : hostView(request.send(), staging, true);
            MemorySegment recv = onDevices ? null : request.recv() == request.send() ? send : hostView(request.recv(), staging, false);
            posts[rank] = new Post(sequence, request, send, recv);
            rendezvous.await(rank, sequence, what, deadline);
            checkAgreement(sequence);
            if (onDevices) {
                runDeviceShare(rank);
            } else {
                runShare(rank);
            }
            rendezvous.await(rank, sequence, what, deadline);
            if (!onDevices && request.recv().hostSegment().isEmpty()) {
                request.recv().copyIn(0, recv);
            }
        } finally {
            if (staging != null) {
                staging.close();
            }
        }
    }

    /**
     * The vendor engine's all-reduce: every rank posts and the group checks agreement as always; rank 0
     * then issues the one engine call for all ranks; a failure there breaks the group for every rank.
     */
    private void executeOnVendor(int rank, long sequence, CollectiveRequest request, long deadline) {
        String what = request.kind().label();
        posts[rank] = new Post(sequence, request, null, null);
        rendezvous.await(rank, sequence, what, deadline);
        checkAgreement(sequence);
        onVendor(rank, sequence, deadline, () -> {
            List<BackendBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
            for (Post p : posts) {
                sends.add(p.request().send());
                recvs.add(p.request().recv());
            }
            vendor.allReduce(request.op(), request.dtype(), sends, recvs, request.count(),
                    Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        });
        rendezvous.await(rank, sequence, what, deadline);
    }

    /** Rank 0 issues the one engine call for all ranks; a failure there breaks the group for every rank. */
    private void onVendor(int rank, long sequence, long deadline, Runnable call) {
        if (rank != 0) {
            return;
        }
        try {
            call.run();
        } catch (CollectiveException e) {
            rendezvous.abort(e);
            throw e;
        } catch (RuntimeException e) {
            CollectiveException broken = new CollectiveException(sequence, "the vendor collective engine failed: " + e);
            broken.initCause(e);
            rendezvous.abort(broken);
            throw e;
        }
    }

    /**
     * All-to-all, pulled: after the agreement check each rank copies its blocks from every rank's
     * send straight into its own recv, so every rank writes only its own buffer (on its own device's
     * queue) and reads peers' sends, which nobody writes during the call. No staging of whole
     * buffers: each block moves once, device to device where the rank's device addresses the
     * sender's buffer ({@link BackendDevice#copy}), else through the host copy paths. The vendor
     * engine, where allowed and able, takes the whole call instead.
     */
    private void executeAllToAll(int rank, long sequence, CollectiveRequest request, long deadline) {
        String what = request.kind().label();
        posts[rank] = new Post(sequence, request, null, null);
        rendezvous.await(rank, sequence, what, deadline);
        checkAgreement(sequence);
        if (vendor != null && vendor.supportsAllToAll(request.dtype())) {
            onVendor(rank, sequence, deadline, () -> {
                List<BackendBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
                long[][] sc = new long[size][], sd = new long[size][], rc = new long[size][], rd = new long[size][];
                for (int r = 0; r < size; r++) {
                    CollectiveRequest p = posts[r].request();
                    sends.add(p.send());
                    recvs.add(p.recv());
                    sc[r] = p.blocks().sendCounts();
                    sd[r] = p.blocks().sendDispls();
                    rc[r] = p.blocks().recvCounts();
                    rd[r] = p.blocks().recvDispls();
                }
                vendor.allToAll(request.dtype(), sends, recvs, new DeviceCollectives.AllToAllLayout(sc, sd, rc, rd),
                        Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            });
        } else {
            long es = request.dtype().byteSize();
            CollectiveRequest.Blocks mine = request.blocks();
            for (int i = 0; i < size; i++) {
                CollectiveRequest from = posts[i].request();
                copyBlock(devices.get(rank), from.send(), from.blocks().sendDispls()[rank] * es,
                        request.recv(), mine.recvDispls()[i] * es, mine.recvCounts()[i] * es);
            }
        }
        rendezvous.await(rank, sequence, what, deadline);
    }

    /**
     * Copies {@code bytes} from {@code from} at {@code fromOffset} into {@code to} at {@code toOffset}
     * by the cheapest path the two buffers allow; bitwise on every path. {@code device} (the writer's)
     * may be null when either buffer is host memory.
     */
    static void copyBlock(BackendDevice device, BackendBuffer from, long fromOffset, BackendBuffer to, long toOffset, long bytes) {
        if (bytes == 0) {
            return;
        }
        var source = from.hostSegment();
        var target = to.hostSegment();
        if (source.isPresent() && target.isPresent()) {
            MemorySegment.copy(source.get(), fromOffset, target.get(), toOffset, bytes);
        } else if (target.isPresent()) {
            from.copyOut(fromOffset, target.get().asSlice(toOffset, bytes));
        } else if (source.isPresent()) {
            to.copyIn(toOffset, source.get().asSlice(fromOffset, bytes));
        } else if (device == null || !device.copy(from, fromOffset, to, toOffset, bytes)) {
            try (Arena bounce = NativeMemory.confined()) { // two devices that do not address each other
                long piece = Math.min(bytes, 16L << 20);
                MemorySegment buf = bounce.allocate(piece, 64);
                for (long done = 0; done < bytes; done += piece) {
                    MemorySegment part = buf.asSlice(0, Math.min(piece, bytes - done));
                    from.copyOut(fromOffset + done, part);
                    to.copyIn(toOffset + done, part);
                }
            }
        }
    }

    /** Fails every later call on every rank with {@code cause} (used when a rank gives up). */
    @Override
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
            if (p.sequence() != first.sequence() || !p.request().agrees(first.request())) {
                CollectiveMismatchException e = new CollectiveMismatchException(sequence,
                        "collective mismatch at call #" + sequence + ": rank 0 called " + first.request().fingerprint()
                                + " (call #" + first.sequence() + ") but rank " + r + " called " + p.request().fingerprint()
                                + " (call #" + p.sequence() + ")");
                rendezvous.abort(e);
                throw e;
            }
        }
        if (first.request().kind() == CollectiveRequest.Kind.ALL_TO_ALL) {
            long[][] sent = new long[size][], expected = new long[size][];
            for (int r = 0; r < size; r++) {
                sent[r] = posts[r].request().blocks().sendCounts();
                expected[r] = posts[r].request().blocks().recvCounts();
            }
            String mismatch = CollectiveRequest.pairMismatch(sequence, sent, expected);
            if (mismatch != null) {
                CollectiveMismatchException e = new CollectiveMismatchException(sequence, mismatch);
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
                reduce(rank, req.dtype(), req.op(), lo * es, lo * es, hi - lo, null);
            }
            case REDUCE_SCATTER -> {
                // Rank r produces block r: read block r of every input, write it to rank r's output.
                long from = rank * count * es;
                long to = req.inPlace() ? from : 0;
                reduce(rank, req.dtype(), req.op(), from, to, count, posts[rank]);
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

    /** Rank {@code rank}'s share of a reduction whose buffers all live on devices that address each other. */
    private void runDeviceShare(int rank) {
        CollectiveRequest req = posts[rank].request();
        long es = req.dtype().byteSize();
        List<BackendBuffer> sends = new ArrayList<>(size);
        List<BackendBuffer> recvs = new ArrayList<>(size);
        for (Post p : posts) {
            sends.add(p.request().send());
            recvs.add(p.request().recv());
        }
        if (req.kind() == CollectiveRequest.Kind.ALL_REDUCE) {
            long units = (req.count() + DEVICE_SHARE_UNIT - 1) / DEVICE_SHARE_UNIT;
            long lo = Math.min(req.count(), share(units, rank) * DEVICE_SHARE_UNIT);
            long hi = Math.min(req.count(), share(units, rank + 1) * DEVICE_SHARE_UNIT);
            if (hi > lo) {
                reduceOn(rank, req, sends, lo * es, recvs, lo * es, hi - lo);
            }
        } else if (req.count() > 0) {
            long from = rank * req.count() * es;
            reduceOn(rank, req, sends, from, List.of(req.recv()), req.inPlace() ? from : 0, req.count());
        }
    }

    /** Folds on rank {@code rank}'s device, or through host memory when the device declines the range. */
    private void reduceOn(int rank, CollectiveRequest req, List<BackendBuffer> ins, long inOffset, List<BackendBuffer> outs, long outOffset, long n) {
        if (!devices.get(rank).reduce(req.op(), req.dtype(), ins, inOffset, outs, outOffset, n)) {
            fold(req.dtype(), req.op(), ins, inOffset, outs, outOffset, n);
        }
    }

    /**
     * The host fold, for host memory and for device shares alike: copy a step of every input into
     * arrays, combine in rank order, copy the result into every output. All of a step is read before
     * any of it is written, so outputs may be inputs.
     */
    static void fold(DType dtype, ReduceOp op, List<BackendBuffer> ins, long inOffset,
                                   List<BackendBuffer> outs, long outOffset, long n) {
        fold(dtype, op, ins, inOffset, outs, outOffset, n, new ReduceKernels.Lanes(dtype, (int) Math.min(STEP, n)));
    }

    /** As above, folding through {@code lanes} (of this dtype, at least min(STEP, n) long). */
    private static void fold(DType dtype, ReduceOp op, List<BackendBuffer> ins, long inOffset,
                             List<BackendBuffer> outs, long outOffset, long n, ReduceKernels.Lanes lanes) {
        long es = dtype.byteSize();
        int step = (int) Math.min(STEP, n);
        for (long done = 0; done < n; done += step) {
            int len = (int) Math.min(step, n - done);
            long at = inOffset + done * es;
            ins.getFirst().copyOut(at, lanes.raw(len));
            lanes.start(len);
            for (int r = 1; r < ins.size(); r++) {
                ins.get(r).copyOut(at, lanes.raw(len));
                lanes.combine(op, len);
            }
            MemorySegment result = lanes.finish(op, ins.size(), len);
            for (BackendBuffer out : outs) {
                out.copyIn(outOffset + done * es, result);
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
    private void reduce(int rank, DType dtype, ReduceOp op, long from, long to, long n, Post only) {
        if (FUSED && (dtype == DType.F32 || dtype == DType.F64) && (op == ReduceOp.SUM || op == ReduceOp.AVG) && allNative()) {
            MemorySegment[] ins = new MemorySegment[size];
            MemorySegment[] outs = new MemorySegment[only == null ? size : 1];
            for (int r = 0; r < size; r++) {
                ins[r] = posts[r].send();
                if (only == null) {
                    outs[r] = posts[r].recv();
                }
            }
            if (only != null) {
                outs[0] = only.recv();
            }
            if (dtype == DType.F32) {
                VectorSumF32.sum(ins, from, outs, to, n, op == ReduceOp.AVG);
            } else {
                VectorSumF64.sum(ins, from, outs, to, n, op == ReduceOp.AVG);
            }
            return;
        }
        List<BackendBuffer> ins = new ArrayList<>(size), outs = new ArrayList<>(size);
        for (Post p : posts) {
            ins.add(HostBuffer.wrap(p.send()));
            if (only == null || p == only) {
                outs.add(HostBuffer.wrap(p.recv()));
            }
        }
        fold(dtype, op, ins, from, outs, to, n, lanes(rank, dtype, (int) Math.min(STEP, n)));
    }

    /** Whether every input and output of this call is native memory (the fused kernel's one segment kind). */
    private boolean allNative() {
        for (Post p : posts) {
            if (!p.send().isNative() || !p.recv().isNative()) {
                return false;
            }
        }
        return true;
    }

    /** Rank {@code rank}'s fold space, kept between calls: a small all-reduce should not allocate and zero it each time. */
    private ReduceKernels.Lanes lanes(int rank, DType dtype, int step) {
        ReduceKernels.Lanes l = lanes[rank];
        if (l == null || !l.fits(dtype, step)) {
            l = new ReduceKernels.Lanes(dtype, Math.max(step, l != null && l.dtype() == dtype ? l.step() : 0));
            lanes[rank] = l;
        }
        return l;
    }
}
