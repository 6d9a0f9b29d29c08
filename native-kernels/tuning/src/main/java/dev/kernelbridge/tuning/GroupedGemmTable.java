package dev.kernelbridge.tuning;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The host side of gemm.cl's grouped kernels (pack_grouped_box or pack_grouped_rows, gemm_grouped), shared by the
 * OpenCL and CUDA launchers: which calls of a grouped GEMM go into which launch, and the table and
 * scalars each launch uploads. The field indices mirror the kernel's KB_GT_* defines (a test reads
 * them from gemm.cl). Each item of a batched call is one group of the table.
 *
 * <p>A launch holds calls of one type pair (one build) whose buffers fit the kernel's slots
 * ({@link #SLOTS} distinct buffers per operand: an OpenCL 1.2 kernel cannot take addresses from a
 * buffer), whose packed operands fit the packing limit, and at most {@link #MAX_GROUPS} groups.
 * A call that cannot share a launch with anything because it alone exceeds the packing limit or the
 * group count is left {@link Plan#alone} for the plain path, which splits such calls by itself.
 * Stateless and thread-safe.
 */
public final class GroupedGemmTable {
    /** Buffers per operand one launch takes (gemm.cl's KB_GROUP_SLOTS). */
    public static final int SLOTS = 8;
    /** Groups one launch takes at most: bounds the table (168 bytes a group) and the search depth. */
    public static final int MAX_GROUPS = 1 << 16;

    // gemm.cl's KB_GT_* fields: k; an operand record for A and for B; C; the group's first tile.
    static final int K = 0, A = 1, B = 9;
    static final int ROWS = 0, TRANS = 1, SLOT = 2, OFFSET = 3, LD = 4, ZERO = 5, PACKED = 6, FIRST_ROW = 7;
    static final int C_SLOT = 17, C_OFFSET = 18, C_LD = 19, FIRST_TILE = 20;
    /** ulongs per group. */
    public static final int FIELDS = 21;

    private GroupedGemmTable() { }

    /**
     * One launch: its calls in order, the table ({@link #FIELDS} per group), alpha and beta per group
     * (to be stored in the build's compute type), the buffer handles of each operand's slots (unused
     * slots repeat slot 0), the packed elements of A and B (compute type), the padded rows of A and B
     * over all groups and of the largest group (groups with k == 0 have none), the largest k, and the
     * tiles (work-groups).
     */
    public record Launch(GemmVariant variant, GemmParameters parameters, List<GemmCall> calls, int groups, long[] table,
                         double[] scalars, long[] aSlots, long[] bSlots, long[] cSlots, long packedA, long packedB,
                         long rowsA, long rowsB, long maxRowsA, long maxRowsB, long maxK, long tiles) {

        /**
         * Whether operand 0 (A) or 1 (B) packs with pack_grouped_box (the group is range dimension 2, no
         * search) rather than pack_grouped_rows (a search of the row space): when the box is at most
         * twice the rows that hold data, as for groups of one size (the expert weights of a ragged call).
         */
        public boolean boxed(int operand) {
            long rows = operand == 0 ? rowsA : rowsB, most = operand == 0 ? maxRowsA : maxRowsB;
            return most * groups <= 2 * rows;
        }

        /** The table as the kernels read it: native ulongs. */
        public MemorySegment tableBytes(Arena arena) {
            return arena.allocateFrom(ValueLayout.JAVA_LONG, table);
        }

        /** alpha and beta of every group in the build's compute type: double (F64), int bits (I8's uint), else float. */
        public MemorySegment scalarBytes(Arena arena) {
            DType type = variant.computeType();
            MemorySegment s = arena.allocate(type.byteSize() * (long) scalars.length, 8);
            for (int i = 0; i < scalars.length; i++) {
                switch (type) {
                    case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, scalars[i]);
                    case I32 -> s.setAtIndex(ValueLayout.JAVA_INT, i, (int) scalars[i]);
                    default -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) scalars[i]);
                }
            }
            return s;
        }

        /** The packing kernel for {@code operand}: pack_grouped_box or pack_grouped_rows. */
        public String packKernel(int operand) {
            return boxed(operand) ? "pack_grouped_box" : "pack_grouped_rows";
        }

        /** The global range of {@link #packKernel} for {@code operand}; empty (a zero) when it packs nothing. */
        public long[] packRange(int operand) {
            return boxed(operand) ? new long[] {operand == 0 ? maxRowsA : maxRowsB, maxK, groups}
                    : new long[] {operand == 0 ? rowsA : rowsB, maxK, 1};
        }
    }

    /** The launches, and the calls left to the plain path. */
    public record Plan(List<Launch> launches, List<GemmCall> alone) { }

    /**
     * Plans {@code calls} (one grouped GEMM, checked by the API): {@code parameters} gives the tunables of
     * each pair's build, {@code handle} a buffer's address or object as the kernel arguments take it, and
     * {@code packingLimit} the bytes one packed operand may take.
     */
    public static Plan plan(List<GemmCall> calls, Function<GemmVariant, GemmParameters> parameters,
                            ToLongFunction<BackendBuffer> handle, long packingLimit) {
        Map<GemmVariant, List<GemmCall>> byPair = new LinkedHashMap<>();
        for (GemmCall c : calls) {
            byPair.computeIfAbsent(GemmVariant.of(c), v -> new ArrayList<>()).add(c);
        }
        List<Launch> launches = new ArrayList<>();
        List<GemmCall> alone = new ArrayList<>();
        for (var e : byPair.entrySet()) {
            GemmParameters p = parameters.apply(e.getKey());
            long es = e.getKey().computeType().byteSize();
            Builder b = new Builder(e.getKey(), p, handle);
            for (GemmCall c : e.getValue()) {
                if (c.batchCount() > MAX_GROUPS || Math.max(b.packedA(c), b.packedB(c)) * c.batchCount() * es > packingLimit) {
                    alone.add(c);
                    continue;
                }
                if (!b.fits(c, es, packingLimit)) {
                    launches.add(b.build());
                    b = new Builder(e.getKey(), p, handle);
                }
                b.add(c);
            }
            if (!b.calls.isEmpty()) {
                launches.add(b.build());
            }
        }
        return new Plan(List.copyOf(launches), List.copyOf(alone));
    }

    /** Collects the calls of one launch. */
    private static final class Builder {
        final GemmVariant variant;
        final GemmParameters p;
        final ToLongFunction<BackendBuffer> handle;
        final List<GemmCall> calls = new ArrayList<>();
        final List<Long> aSlots = new ArrayList<>(), bSlots = new ArrayList<>(), cSlots = new ArrayList<>();
        final List<long[]> rows = new ArrayList<>();
        final List<double[]> scalars = new ArrayList<>();
        long packedA, packedB, rowsA, rowsB, maxRowsA, maxRowsB, maxK, tiles;

        Builder(GemmVariant variant, GemmParameters p, ToLongFunction<BackendBuffer> handle) {
            this.variant = variant;
            this.p = p;
            this.handle = handle;
        }

        /** Packed elements of one item's op(A): row panels of MR, k deep (none when k == 0). */
        long packedA(GemmCall c) { return ceilDiv(c.m(), p.mr()) * p.mr() * c.k(); }

        long packedB(GemmCall c) { return ceilDiv(c.n(), p.nr()) * p.nr() * c.k(); }

        boolean fits(GemmCall c, long es, long limit) {
            return rows.size() + c.batchCount() <= MAX_GROUPS
                    && (packedA + packedA(c) * c.batchCount()) * es <= limit && (packedB + packedB(c) * c.batchCount()) * es <= limit
                    && slotsAfter(aSlots, c.a()) <= SLOTS && slotsAfter(bSlots, c.b()) <= SLOTS && slotsAfter(cSlots, c.c()) <= SLOTS;
        }

        private int slotsAfter(List<Long> slots, BackendBuffer buffer) {
            return slots.contains(handle.applyAsLong(buffer)) ? slots.size() : slots.size() + 1;
        }

        private static int slot(List<Long> slots, long h) {
            int i = slots.indexOf(h);
            if (i < 0) {
                slots.add(h);
                i = slots.size() - 1;
            }
            return i;
        }

        void add(GemmCall c) {
            calls.add(c);
            int sa = slot(aSlots, handle.applyAsLong(c.a())), sb = slot(bSlots, handle.applyAsLong(c.b()));
            int sc = slot(cSlots, handle.applyAsLong(c.c()));
            long mPanels = ceilDiv(c.m(), p.mr()), nPanels = ceilDiv(c.n(), p.nr());
            for (long item = 0; item < c.batchCount(); item++) {
                long[] g = new long[FIELDS];
                g[K] = c.k();
                g[A + ROWS] = c.m();
                g[A + TRANS] = c.transA() == Transpose.NO_TRANS ? 0 : 1;
                g[A + SLOT] = sa;
                g[A + OFFSET] = c.offsetA() + item * c.strideA();
                g[A + LD] = c.lda();
                g[A + ZERO] = c.zeroPointA();
                g[A + PACKED] = packedA;
                g[A + FIRST_ROW] = rowsA;
                // op(B) is packed by columns: its "rows" are the n columns, and untransposed B is read across ldb.
                g[B + ROWS] = c.n();
                g[B + TRANS] = c.transB() == Transpose.NO_TRANS ? 1 : 0;
                g[B + SLOT] = sb;
                g[B + OFFSET] = c.offsetB() + item * c.strideB();
                g[B + LD] = c.ldb();
                g[B + ZERO] = c.zeroPointB();
                g[B + PACKED] = packedB;
                g[B + FIRST_ROW] = rowsB;
                g[C_SLOT] = sc;
                g[C_OFFSET] = c.offsetC() + item * c.strideC();
                g[C_LD] = c.ldc();
                g[FIRST_TILE] = tiles;
                rows.add(g);
                scalars.add(new double[] {c.alpha(), c.beta()});
                packedA += packedA(c);
                packedB += packedB(c);
                if (c.k() > 0) { // a group that packs nothing takes no rows, so no work-item finds it
                    rowsA += mPanels * p.mr();
                    rowsB += nPanels * p.nr();
                    maxRowsA = Math.max(maxRowsA, mPanels * p.mr());
                    maxRowsB = Math.max(maxRowsB, nPanels * p.nr());
                }
                maxK = Math.max(maxK, c.k());
                tiles += mPanels * ceilDiv(nPanels, p.wg());
            }
        }

        Launch build() {
            long[] table = new long[rows.size() * FIELDS];
            double[] s = new double[rows.size() * 2];
            for (int g = 0; g < rows.size(); g++) {
                System.arraycopy(rows.get(g), 0, table, g * FIELDS, FIELDS);
                s[2 * g] = scalars.get(g)[0];
                s[2 * g + 1] = scalars.get(g)[1];
            }
            return new Launch(variant, p, List.copyOf(calls), rows.size(), table, s, slots(aSlots), slots(bSlots), slots(cSlots),
                    packedA, packedB, rowsA, rowsB, maxRowsA, maxRowsB, maxK, tiles);
        }

        private static long[] slots(List<Long> used) {
            long[] s = new long[SLOTS];
            for (int i = 0; i < SLOTS; i++) {
                s[i] = used.get(i < used.size() ? i : 0);
            }
            return s;
        }
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
