package dev.kernelbridge;

import dev.kernelbridge.GemmChecks.Region;
import dev.kernelbridge.internal.Lifetime;
import dev.kernelbridge.internal.dispatch.HostGemm;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Grouped GEMM: many independent GEMMs as one call with one completion, as the expert layers of a
 * mixture-of-experts model need. Two forms:
 * <ul>
 *   <li><b>ragged</b> (the MoE shape): G groups share n, k, transposes, scalars and storage. A holds
 *       Σ m_g rows of op(A) and C holds Σ m_g rows, group g taking rows [offsets[g], offsets[g+1]);
 *       B holds G matrices op(B) of k×n, group g's starting {@code g·strideB} elements after the first.
 *       Empty groups are legal;</li>
 *   <li><b>general</b>: a list of independent GEMMs of any shapes, transposes and scalars.</li>
 * </ul>
 * Each group has the BLAS semantics of {@link GemmOp} and any of its type pairs (all groups of one
 * call share the input type). Every argument of every group is checked before anything runs; the
 * message names the group and the rule ("group 3: m must be >= 0, got -2"), and a rejected call writes
 * nothing. No group's C may share its extent (first to last element) with another group's A, B or C;
 * the ragged form's blocks are disjoint by construction.
 *
 * <p>On {@link DeviceBuffer}s ({@link #run(Ragged)}, {@link #run(List)}) every operand lives on one
 * device, which runs the groups as one grouped launch with the dispatch deadline and health of
 * {@link KernelBridge#gemm}. On host memory ({@link #gemmRagged}, {@link #gemmBatch}) the call is placed
 * by the {@link Dispatch}: SPLIT puts whole groups on devices by measured throughput, the largest group
 * first onto the device that will finish it soonest; a device that fails hands its groups to the next,
 * and C is written from successful attempts only, once every group is done. Each blocking method has
 * an async twin that checks at once (bad arguments throw before the future exists) and completes one
 * future when every group is done. Immutable and thread-safe; from {@link KernelBridge#groupedGemm()}.
 */
public final class GroupedGemm {
    private static final Object NATIVE_MEMORY = new Object();
    /** A thread that never runs: a segment it cannot access is confined to some thread. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> { });

    private final KernelBridge bridge;
    private final Dispatch dispatch;

    GroupedGemm(KernelBridge bridge, Dispatch dispatch) {
        this.bridge = bridge;
        this.dispatch = dispatch;
    }

    /** The same operations placed by {@code dispatch} (host-memory forms; device buffers stay where they are). */
    public GroupedGemm with(Dispatch dispatch) {
        return new GroupedGemm(bridge, bridge.effective(dispatch));
    }

    /** The dispatch the host-memory forms are placed by. */
    public Dispatch dispatch() { return dispatch; }

    // ---------------------------------------------------------------------------------------------
    // Device buffers.

    /** Runs the groups of {@code ragged} on the device that holds its buffers; returns when every C is written. */
    public void run(Ragged ragged) {
        Prepared p = prepare(ragged);
        if (p != null) {
            p.run();
        }
    }

    /** As {@link #run(Ragged)}, in the background: one future for the whole call. */
    public CompletableFuture<Void> runAsync(Ragged ragged) {
        return async(prepare(ragged));
    }

    /** Runs independent GEMMs (group g is {@code ops.get(g)}) on the device that holds their buffers. */
    public void run(List<GemmOp> ops) {
        Prepared p = prepare(ops, null);
        if (p != null) {
            p.run();
        }
    }

    /** As {@link #run(List)}, in the background: one future for the whole call. */
    public CompletableFuture<Void> runAsync(List<GemmOp> ops) {
        return async(prepare(ops, null));
    }

    // ---------------------------------------------------------------------------------------------
    // Host memory.

    /**
     * The ragged form on memory segments, CBLAS-style: for g in [0, G) with G = offsets.length − 1 and
     * m_g = offsets[g+1] − offsets[g], C_g := alpha·op(A_g)·op(B_g) + beta·C_g where op(A_g) is rows
     * [offsets[g], offsets[g+1]) of the Σm×k matrix op(A) stored in {@code a} with {@code lda}, C_g the
     * same rows of the Σm×n matrix C in {@code c} with {@code ldc}, and B_g the matrix stored in
     * {@code b} from element g·strideB with {@code ldb}. A and B hold {@code inputType}, C holds
     * {@code outputType} (the pairs of {@link Blas#gemm}).
     */
    public void gemmRagged(Layout layout, Transpose transA, Transpose transB, long[] offsets, long n, long k, double alpha,
                           DType inputType, MemorySegment a, long lda, MemorySegment b, long ldb, long strideB,
                           double beta, DType outputType, MemorySegment c, long ldc) {
        HostCall h = prepareRagged(layout, transA, transB, offsets, n, k, alpha, inputType, a, lda, b, ldb, strideB, beta, outputType, c, ldc, false);
        if (h != null) {
            h.run();
        }
    }

    /** As {@link #gemmRagged}, in the background; the segments must be accessible from any thread. */
    public CompletableFuture<Void> gemmRaggedAsync(Layout layout, Transpose transA, Transpose transB, long[] offsets, long n, long k, double alpha,
                                                   DType inputType, MemorySegment a, long lda, MemorySegment b, long ldb, long strideB,
                                                   double beta, DType outputType, MemorySegment c, long ldc) {
        HostCall h = prepareRagged(layout, transA, transB, offsets, n, k, alpha, inputType, a, lda, b, ldb, strideB, beta, outputType, c, ldc, true);
        return h == null ? CompletableFuture.completedFuture(null) : CompletableFuture.runAsync(h::run, bridge.asyncExecutor());
    }

    /**
     * The general form on memory segments, as MKL's {@code cblas_gemm_batch} with groups of one: for
     * each g, C_g := alpha[g]·op_g(A_g)·op_g(B_g) + beta[g]·C_g with the shape, transposes and leading
     * dimensions at index g of each array (all arrays have one entry per group). A and B hold
     * {@code inputType}, C holds {@code outputType}; a segment may serve several groups (as A or B).
     */
    public void gemmBatch(Layout layout, Transpose[] transA, Transpose[] transB, long[] m, long[] n, long[] k, double[] alpha,
                          DType inputType, MemorySegment[] a, long[] lda, MemorySegment[] b, long[] ldb,
                          double[] beta, DType outputType, MemorySegment[] c, long[] ldc) {
        HostCall h = prepareBatch(layout, transA, transB, m, n, k, alpha, inputType, a, lda, b, ldb, beta, outputType, c, ldc, false);
        if (h != null) {
            h.run();
        }
    }

    /** As {@link #gemmBatch}, in the background; the segments must be accessible from any thread. */
    public CompletableFuture<Void> gemmBatchAsync(Layout layout, Transpose[] transA, Transpose[] transB, long[] m, long[] n, long[] k, double[] alpha,
                                                  DType inputType, MemorySegment[] a, long[] lda, MemorySegment[] b, long[] ldb,
                                                  double[] beta, DType outputType, MemorySegment[] c, long[] ldc) {
        HostCall h = prepareBatch(layout, transA, transB, m, n, k, alpha, inputType, a, lda, b, ldb, beta, outputType, c, ldc, true);
        return h == null ? CompletableFuture.completedFuture(null) : CompletableFuture.runAsync(h::run, bridge.asyncExecutor());
    }

    @Override
    public String toString() { return "GroupedGemm placed by " + dispatch; }

    // ---------------------------------------------------------------------------------------------
    // The ragged description on device buffers.

    /**
     * The ragged form on device buffers. Leading dimensions left unset are the tightest legal ones for
     * the whole Σm-row matrices; an unset strideB is the extent of one tight B. Immutable.
     */
    public static final class Ragged {
        final Layout layout;
        final Transpose transA, transB;
        final long[] offsets;
        final long n, k;
        final double alpha, beta;
        final DeviceBuffer a, b, c;
        final long offsetA, offsetB, offsetC, lda, ldb, ldc, strideB;
        final int zeroPointA, zeroPointB;

        private Ragged(Builder x) {
            layout = x.layout;
            transA = x.transA;
            transB = x.transB;
            offsets = x.offsets == null ? null : x.offsets.clone();
            n = x.n;
            k = x.k;
            alpha = x.alpha;
            beta = x.beta;
            a = x.a;
            b = x.b;
            c = x.c;
            offsetA = x.offsetA;
            offsetB = x.offsetB;
            offsetC = x.offsetC;
            lda = x.lda;
            ldb = x.ldb;
            ldc = x.ldc;
            strideB = x.strideB;
            zeroPointA = x.zeroPointA;
            zeroPointB = x.zeroPointB;
        }

        public static Builder builder() { return new Builder(); }

        /** Number of groups: offsets.length − 1. */
        public int groups() { return offsets == null ? 0 : Math.max(0, offsets.length - 1); }

        /** Collects the arguments. Not thread-safe; {@link #build()} makes an immutable description. */
        public static final class Builder {
            private Layout layout = Layout.ROW_MAJOR;
            private Transpose transA = Transpose.NO_TRANS, transB = Transpose.NO_TRANS;
            private long[] offsets;
            private long n, k;
            private double alpha = 1, beta = 0;
            private DeviceBuffer a, b, c;
            private long offsetA, offsetB, offsetC;
            private long lda = GemmOp.TIGHT, ldb = GemmOp.TIGHT, ldc = GemmOp.TIGHT, strideB = GemmOp.TIGHT;
            private int zeroPointA, zeroPointB;

            private Builder() { }

            public Builder layout(Layout layout) { this.layout = layout; return this; }

            public Builder transA(Transpose transA) { this.transA = transA; return this; }

            public Builder transB(Transpose transB) { this.transB = transB; return this; }

            /** Group boundaries in rows of op(A) and C: G + 1 non-decreasing values (copied). */
            public Builder offsets(long... offsets) { this.offsets = offsets == null ? null : offsets.clone(); return this; }

            /** op(B_g) is k×n and C_g is m_g×n for every group. */
            public Builder shape(long n, long k) { this.n = n; this.k = k; return this; }

            public Builder alpha(double alpha) { this.alpha = alpha; return this; }

            public Builder beta(double beta) { this.beta = beta; return this; }

            public Builder a(DeviceBuffer a) { return a(a, 0, GemmOp.TIGHT); }

            public Builder a(DeviceBuffer a, long offset, long ld) { this.a = a; offsetA = offset; lda = ld; return this; }

            public Builder b(DeviceBuffer b) { return b(b, 0, GemmOp.TIGHT, GemmOp.TIGHT); }

            /** The G matrices B: group g's starts {@code offset + g·stride} elements into {@code b}. */
            public Builder b(DeviceBuffer b, long offset, long ld, long stride) { this.b = b; offsetB = offset; ldb = ld; strideB = stride; return this; }

            public Builder c(DeviceBuffer c) { return c(c, 0, GemmOp.TIGHT); }

            public Builder c(DeviceBuffer c, long offset, long ld) { this.c = c; offsetC = offset; ldc = ld; return this; }

            /** Zero points of an I8 call, shared by the groups (see {@link GemmOp.Builder#zeroPoints}). */
            public Builder zeroPoints(int a, int b) { zeroPointA = a; zeroPointB = b; return this; }

            public Ragged build() { return new Ragged(this); }
        }
    }

    /**
     * Where each group of a ragged call lies: rows [offsets[g], offsets[g+1]) of op(A) and C, B at
     * g·strideB. Row r of op(A) starts r·lda into A when op(A)'s rows are stored rows (row-major and not
     * transposed, or column-major and transposed), else r elements in; C likewise.
     */
    private record RaggedShape(Layout layout, Transpose transA, Transpose transB, long[] offsets, long n, long k,
                               long lda, long ldb, long strideB, long ldc) {
        int groups() { return offsets.length - 1; }

        long m(int g) { return offsets[g + 1] - offsets[g]; }

        long offA(int g) { return (layout == Layout.ROW_MAJOR) == (transA == Transpose.NO_TRANS) ? offsets[g] * lda : offsets[g]; }

        long offB(int g) { return g * strideB; }

        long offC(int g) { return layout == Layout.ROW_MAJOR ? offsets[g] * ldc : offsets[g]; }

        /** Checks the offsets: there, G + 1 of them, none negative, non-decreasing (named as the m of a group). */
        static void checkOffsets(long[] offsets) {
            GemmChecks.requireNonNull(offsets, "offsets must not be null");
            GemmChecks.require(offsets.length >= 1, "offsets must hold G + 1 group boundaries (at least 1), got none");
            GemmChecks.require(offsets[0] >= 0, "offsets[0] must be >= 0, got " + offsets[0]);
            for (int g = 0; g + 1 < offsets.length; g++) {
                long m = offsets[g + 1] - offsets[g];
                if (offsets[g + 1] < offsets[g]) {
                    throw new IllegalArgumentException("group " + g + ": m must be >= 0, got " + m
                            + " (offsets[" + (g + 1) + "] = " + offsets[g + 1] + " < offsets[" + g + "] = " + offsets[g] + ")");
                }
            }
        }

        /** Rows of the whole op(A) and C the call spans (every row up to the last boundary). */
        long totalRows() { return offsets[offsets.length - 1]; }
    }

    // ---------------------------------------------------------------------------------------------
    // Checking.

    /** One checked group as the caller described it (its own layout form), and whether it has work. */
    private record Group(int index, Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha, double beta,
                         Region a, Region b, Region c, long batchCount, int zeroPointA, int zeroPointB, boolean work) {
        long[] rangeA() { return GemmChecks.byteRange(layout, GemmOp.rowsOf(transA, m, k), GemmOp.colsOf(transA, m, k), a, batchCount); }

        long[] rangeB() { return GemmChecks.byteRange(layout, GemmOp.rowsOf(transB, k, n), GemmOp.colsOf(transB, k, n), b, batchCount); }

        long[] rangeC() { return GemmChecks.byteRange(layout, m, n, c, batchCount); }
    }

    private static Group group(int g, Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha, double beta,
                               Region a, Region b, Region c, long batchCount, int zeroPointA, int zeroPointB) {
        try {
            boolean work = GemmChecks.check(layout, transA, transB, m, n, k, alpha, beta, a, b, c, batchCount, zeroPointA, zeroPointB);
            return new Group(g, layout, transA, transB, m, n, k, alpha, beta, a, b, c, batchCount, zeroPointA, zeroPointB, work);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("group " + g + ": " + e.getMessage(), e);
        }
    }

    /** General form: no group's C may share its extent with another group's A, B or C. */
    private static void checkAcrossGroups(List<Group> groups) {
        int size = groups.size();
        long[][] ca = new long[size][], ra = new long[size][], rb = new long[size][];
        for (int i = 0; i < size; i++) {
            ca[i] = groups.get(i).rangeC();
            ra[i] = groups.get(i).rangeA();
            rb[i] = groups.get(i).rangeB();
        }
        for (int i = 0; i < size; i++) {
            Group gi = groups.get(i);
            if (ca[i] == null) {
                continue;
            }
            for (int j = 0; j < size; j++) {
                if (j == i) {
                    continue;
                }
                Group gj = groups.get(j);
                if (j < i && overlap(gi.c, ca[i], gj.c, ca[j])) {
                    throw new IllegalArgumentException("group " + gi.index + ": c must not overlap the c of group " + gj.index + " (the groups would race)");
                }
                if (overlap(gi.c, ca[i], gj.a, ra[j]) || overlap(gi.c, ca[i], gj.b, rb[j])) {
                    String which = overlap(gi.c, ca[i], gj.a, ra[j]) ? "a" : "b";
                    throw new IllegalArgumentException("group " + gi.index + ": c must not overlap the " + which + " of group " + gj.index
                            + " (groups run in any order)");
                }
            }
        }
    }

    /** Ragged form: C's blocks are disjoint by construction; the whole C must not overlap the whole A or any B. */
    private static void checkRaggedWhole(RaggedShape s, Region a, Region b, Region c) {
        long rows = s.totalRows();
        long[] rc = GemmChecks.byteRange(s.layout(), rows, s.n(), c, 1);
        long[] ra = GemmChecks.byteRange(s.layout(), GemmOp.rowsOf(s.transA(), rows, s.k()), GemmOp.colsOf(s.transA(), rows, s.k()), a, 1);
        long[] rb = GemmChecks.byteRange(s.layout(), GemmOp.rowsOf(s.transB(), s.k(), s.n()), GemmOp.colsOf(s.transB(), s.k(), s.n()),
                new Region(b.name(), b.memory(), b.baseByte(), b.length(), b.dtype(), b.offset(), b.ld(), s.strideB()), Math.max(1, s.groups()));
        if (overlap(c, rc, a, ra)) {
            throw new IllegalArgumentException("c must not overlap a (BLAS leaves that undefined)");
        }
        if (overlap(c, rc, b, rb)) {
            throw new IllegalArgumentException("c must not overlap b (BLAS leaves that undefined)");
        }
    }

    private static boolean overlap(Region x, long[] rx, Region y, long[] ry) {
        return rx != null && ry != null && x.memory() == y.memory() && rx[0] < ry[1] && ry[0] < rx[1];
    }

    // ---------------------------------------------------------------------------------------------
    // Device buffers: checked calls, buffers held until the device is done.

    /** A checked device call: the groups with work, as SPI calls, on one device. */
    private final class Prepared {
        final Device device;
        final List<GemmCall> calls;
        final Runnable release;

        Prepared(Device device, List<GemmCall> calls, Runnable release) {
            this.device = device;
            this.calls = calls;
            this.release = release;
        }

        void run() {
            bridge.scheduler().runGroupedOn(device.id(), calls, dispatch.deadline().orElse(null), release);
        }
    }

    private CompletableFuture<Void> async(Prepared p) {
        if (p == null) {
            return CompletableFuture.completedFuture(null);
        }
        try {
            return CompletableFuture.runAsync(p::run, bridge.asyncExecutor());
        } catch (RuntimeException e) {
            p.release.run();
            throw e;
        }
    }

    private Prepared prepare(Ragged r) {
        GemmChecks.requireNonNull(r, "ragged must not be null");
        bridge.requireOpen();
        RaggedShape.checkOffsets(r.offsets);
        GemmChecks.requireNonNull(r.layout, "layout must not be null");
        GemmChecks.requireNonNull(r.transA, "transA must not be null");
        GemmChecks.requireNonNull(r.transB, "transB must not be null");
        long rows = r.offsets[r.offsets.length - 1];
        long rowsB = GemmOp.rowsOf(r.transB, r.k, r.n), colsB = GemmOp.colsOf(r.transB, r.k, r.n);
        long lda = r.lda == GemmOp.TIGHT ? GemmOp.tightLd(r.layout, GemmOp.rowsOf(r.transA, rows, r.k), GemmOp.colsOf(r.transA, rows, r.k)) : r.lda;
        long ldb = r.ldb == GemmOp.TIGHT ? GemmOp.tightLd(r.layout, rowsB, colsB) : r.ldb;
        long ldc = r.ldc == GemmOp.TIGHT ? GemmOp.tightLd(r.layout, rows, r.n) : r.ldc;
        long strideB = r.strideB == GemmOp.TIGHT ? ldb * (r.layout == Layout.ROW_MAJOR ? rowsB : colsB) : r.strideB;
        GemmChecks.require(strideB >= 0, "strideB must be >= 0, got " + strideB);
        RaggedShape s = new RaggedShape(r.layout, r.transA, r.transB, r.offsets, r.n, r.k, lda, ldb, strideB, ldc);
        List<GemmOp> ops = new ArrayList<>(s.groups());
        for (int g = 0; g < s.groups(); g++) {
            ops.add(GemmOp.builder().layout(r.layout).transA(r.transA).transB(r.transB).shape(s.m(g), r.n, r.k)
                    .alpha(r.alpha).beta(r.beta).zeroPoints(r.zeroPointA, r.zeroPointB)
                    .a(r.a, r.offsetA + s.offA(g), lda).b(r.b, r.offsetB + s.offB(g), ldb).c(r.c, r.offsetC + s.offC(g), ldc).build());
        }
        return prepare(ops, s);
    }

    /** Checks every group, then across groups ({@code ragged}: the whole-matrix rule), then holds the buffers. */
    private Prepared prepare(List<GemmOp> ops, RaggedShape ragged) {
        GemmChecks.requireNonNull(ops, "ops must not be null");
        bridge.requireOpen();
        List<Group> groups = new ArrayList<>(ops.size());
        Device device = null;
        for (int g = 0; g < ops.size(); g++) {
            GemmOp op = ops.get(g);
            GemmChecks.requireNonNull(op, "group " + g + ": op must not be null");
            Group checked = group(g, op.layout, op.transA, op.transB, op.m, op.n, op.k, op.alpha, op.beta,
                    region("a", op.a, op.offsetA, op.lda, op.strideA), region("b", op.b, op.offsetB, op.ldb, op.strideB),
                    region("c", op.c, op.offsetC, op.ldc, op.strideC), op.batchCount, op.zeroPointA, op.zeroPointB);
            Device here = op.c.device();
            for (DeviceBuffer input : new DeviceBuffer[] {op.a, op.b}) {
                if (input.device() != here) {
                    throw new IllegalArgumentException("group " + g + ": " + (input == op.a ? "a" : "b") + " must be on the device of c ("
                            + here.id() + "), got " + input.device().id());
                }
            }
            if (!bridge.owns(here)) {
                throw new IllegalArgumentException("group " + g + ": c must belong to this KernelBridge");
            }
            if (device == null) {
                device = here;
            } else if (here != device) {
                throw new IllegalArgumentException("group " + g + ": c must be on the device of group 0 (" + device.id() + "), got " + here.id()
                        + " (a grouped call on device buffers runs on one device)");
            }
            if (g > 0 && op.a.dtype() != ops.get(0).a.dtype()) {
                throw new IllegalArgumentException("group " + g + ": a must have the element type of group 0 (" + ops.get(0).a.dtype().label()
                        + "), got " + op.a.dtype().label());
            }
            groups.add(checked);
        }
        if (ragged == null) {
            checkAcrossGroups(groups);
        } else if (!ops.isEmpty()) {
            GemmOp first = ops.getFirst();
            checkRaggedWhole(ragged, region("a", first.a, first.offsetA - ragged.offA(0), first.lda, 0),
                    region("b", first.b, first.offsetB, first.ldb, 0), region("c", first.c, first.offsetC - ragged.offC(0), first.ldc, 0));
        }
        if (groups.stream().noneMatch(Group::work)) {
            return null;
        }
        Runnable release = acquire(ops);
        List<GemmCall> calls = new ArrayList<>();
        for (Group x : groups) {
            if (x.work) {
                GemmOp op = ops.get(x.index);
                calls.add(GemmChecks.toCall(x.layout, x.transA, x.transB, x.m, x.n, x.k, x.alpha, x.beta,
                        x.a, op.a.spi, x.b, op.b.spi, x.c, op.c.spi, x.batchCount, x.zeroPointA, x.zeroPointB));
            }
        }
        return new Prepared(device, List.copyOf(calls), release);
    }

    /** Holds the bridge and every distinct buffer open until the device is done with them. */
    private Runnable acquire(List<GemmOp> ops) {
        Map<DeviceBuffer, String> buffers = new IdentityHashMap<>();
        for (int g = 0; g < ops.size(); g++) {
            GemmOp op = ops.get(g);
            buffers.putIfAbsent(op.a, "group " + g + ": a");
            buffers.putIfAbsent(op.b, "group " + g + ": b");
            buffers.putIfAbsent(op.c, "group " + g + ": c");
        }
        List<Lifetime> lifetimes = new ArrayList<>();
        lifetimes.add(bridge.lifetime);
        buffers.keySet().forEach(x -> lifetimes.add(x.lifetime));
        try {
            return Lifetime.acquireAll(lifetimes.toArray(Lifetime[]::new));
        } catch (IllegalStateException e) {
            String which = bridge.lifetime.isClosed() ? "KernelBridge" : buffers.entrySet().stream()
                    .filter(x -> x.getKey().isClosed()).map(Map.Entry::getValue).findFirst().orElse("a buffer");
            throw new IllegalStateException(which + " is closed", e);
        }
    }

    private static Region region(String name, DeviceBuffer buffer, long offset, long ld, long stride) {
        return buffer == null
                ? new Region(name, null, 0, 0, DType.F32, offset, ld, stride)
                : new Region(name, buffer, 0, buffer.length(), buffer.dtype(), offset, ld, stride);
    }

    // ---------------------------------------------------------------------------------------------
    // Host memory: checked groups in the column-major form, placed by the scheduler.

    /** A checked host call: the groups with work and their numbers as the caller counts them. */
    private final class HostCall {
        final List<HostGemm> groups;
        final int[] numbers;

        HostCall(List<HostGemm> groups, int[] numbers) {
            this.groups = groups;
            this.numbers = numbers;
        }

        void run() {
            bridge.lifetime.acquire();
            try {
                bridge.scheduler().runGrouped(groups, numbers, dispatch);
            } finally {
                bridge.lifetime.release();
            }
        }
    }

    private HostCall prepareRagged(Layout layout, Transpose transA, Transpose transB, long[] offsets, long n, long k, double alpha,
                                   DType inputType, MemorySegment a, long lda, MemorySegment b, long ldb, long strideB,
                                   double beta, DType outputType, MemorySegment c, long ldc, boolean async) {
        bridge.requireOpen();
        RaggedShape.checkOffsets(offsets);
        GemmChecks.requireNonNull(inputType, "inputType must not be null");
        GemmChecks.requireNonNull(outputType, "outputType must not be null");
        GemmChecks.requireNonNull(layout, "layout must not be null");
        GemmChecks.requireNonNull(transA, "transA must not be null");
        GemmChecks.requireNonNull(transB, "transB must not be null");
        GemmChecks.require(strideB >= 0, "strideB must be >= 0, got " + strideB);
        RaggedShape s = new RaggedShape(layout, transA, transB, offsets.clone(), n, k, lda, ldb, strideB, ldc);
        int size = s.groups();
        MemorySegment[] as = new MemorySegment[size], bs = new MemorySegment[size], cs = new MemorySegment[size];
        List<Group> groups = new ArrayList<>(size);
        for (int g = 0; g < size; g++) {
            as[g] = a;
            bs[g] = b;
            cs[g] = c;
            groups.add(group(g, layout, transA, transB, s.m(g), n, k, alpha, beta, region("a", a, inputType, s.offA(g), lda),
                    region("b", b, inputType, s.offB(g), ldb), region("c", c, outputType, s.offC(g), ldc), 1, 0, 0));
        }
        if (size > 0) {
            checkRaggedWhole(s, region("a", a, inputType, 0, lda), region("b", b, inputType, 0, ldb), region("c", c, outputType, 0, ldc));
        }
        return host(groups, as, bs, cs, async);
    }

    private HostCall prepareBatch(Layout layout, Transpose[] transA, Transpose[] transB, long[] m, long[] n, long[] k, double[] alpha,
                                  DType inputType, MemorySegment[] a, long[] lda, MemorySegment[] b, long[] ldb,
                                  double[] beta, DType outputType, MemorySegment[] c, long[] ldc, boolean async) {
        bridge.requireOpen();
        GemmChecks.requireNonNull(m, "m must not be null");
        int size = m.length;
        Object[] arrays = {transA, transB, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
        String[] names = {"transA", "transB", "n", "k", "alpha", "a", "lda", "b", "ldb", "beta", "c", "ldc"};
        for (int i = 0; i < arrays.length; i++) {
            GemmChecks.requireNonNull(arrays[i], names[i] + " must not be null");
            int length = java.lang.reflect.Array.getLength(arrays[i]);
            GemmChecks.require(length == size, names[i] + " must have one entry per group (" + size + ", the length of m), got " + length);
        }
        GemmChecks.requireNonNull(inputType, "inputType must not be null");
        GemmChecks.requireNonNull(outputType, "outputType must not be null");
        List<Group> groups = new ArrayList<>(size);
        for (int g = 0; g < size; g++) {
            groups.add(group(g, layout, transA[g], transB[g], m[g], n[g], k[g], alpha[g], beta[g], region("a", a[g], inputType, 0, lda[g]),
                    region("b", b[g], inputType, 0, ldb[g]), region("c", c[g], outputType, 0, ldc[g]), 1, 0, 0));
        }
        checkAcrossGroups(groups);
        return host(groups, a.clone(), b.clone(), c.clone(), async);
    }

    /** The segment checks of {@link Blas} per group, then the groups with work in column-major form. */
    private HostCall host(List<Group> groups, MemorySegment[] a, MemorySegment[] b, MemorySegment[] c, boolean async) {
        List<HostGemm> work = new ArrayList<>();
        int[] numbers = new int[groups.size()];
        for (Group x : groups) {
            int g = x.index;
            GemmChecks.require(!c[g].isReadOnly(), "group " + g + ": c must be writable, got a read-only segment");
            for (MemorySegment s : new MemorySegment[] {a[g], b[g], c[g]}) {
                String name = s == a[g] ? "a" : s == b[g] ? "b" : "c";
                if (!s.scope().isAlive()) {
                    throw new IllegalStateException("group " + g + ": the arena of " + name + " is closed");
                }
                if (!s.isAccessibleBy(Thread.currentThread())) {
                    throw new WrongThreadException("group " + g + ": the segment " + name + " is confined to another thread");
                }
                if (async && !s.isAccessibleBy(OTHER_THREAD)) {
                    throw new WrongThreadException("group " + g + ": the segment " + name
                            + " is confined to this thread; the async form runs elsewhere and needs shared or global memory");
                }
            }
            if (x.work) {
                numbers[work.size()] = g;
                work.add(GemmChecks.toHost(x.layout, x.transA, x.transB, x.m, x.n, x.k, x.alpha, x.beta, x.a, a[g], x.b, b[g], x.c, c[g],
                        x.batchCount, x.zeroPointA, x.zeroPointB));
            }
        }
        return work.isEmpty() ? null : new HostCall(List.copyOf(work), Arrays.copyOf(numbers, work.size()));
    }

    private static Region region(String name, MemorySegment s, DType dtype, long offset, long ld) {
        if (s == null) {
            return new Region(name, null, 0, 0, dtype, offset, ld, 0);
        }
        Object memory = s.heapBase().orElse(NATIVE_MEMORY);
        return new Region(name, memory, s.address(), s.byteSize() / dtype.byteSize(), dtype, offset, ld, 0);
    }
}
