package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import dev.kernelbridge.spi.Convert;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The loops around a {@link PackedKernel}, written once for every element type (BLIS's five
 * loops: jc over nc-wide blocks of B, pc over kc-deep slices, ic over mc-tall blocks of A, then jr
 * and ir over microkernel tiles), plus the split of the work over {@link CpuWorkers}.
 *
 * <p>Results are bitwise independent of the thread count: work is split at tile boundaries into
 * slabs of C, and every element sees the same kc slices in the same order whoever computes it.
 * Thread-safe; every call uses its own pooled {@link Scratch}.
 */
final class BlockedGemm implements GemmEngine {
    private final PackedKernel kernel;
    private final SmallKernel small;
    private final Blocking blocking;
    private final CpuWorkers workers;

    BlockedGemm(PackedKernel kernel, SmallKernel small, Blocking blocking, CpuWorkers workers) {
        this.kernel = kernel;
        this.small = small;
        this.blocking = blocking;
        this.workers = workers;
    }

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (call.k() == 0) {
            scale(call, c);
            return;
        }
        long batch = call.batchCount();
        double itemFlops = 2.0 * call.m() * call.n() * call.k();
        int threads = workers.threads();
        if (threads == 1 || itemFlops * batch < blocking.parallelMinFlops()) {
            withScratch(s -> {
                for (long item = 0; item < batch; item++) {
                    compute(call, a, b, c, item, 0, call.m(), 0, call.n(), s);
                }
            });
        } else if (itemFlops < blocking.parallelMinFlops() || batch >= 4L * threads) {
            // Many small items: whole items per thread, interleaved.
            int parts = (int) Math.min(threads, batch);
            workers.run(parts, part -> withScratch(s -> {
                for (long item = part; item < batch; item += parts) {
                    compute(call, a, b, c, item, 0, call.m(), 0, call.n(), s);
                }
            }));
        } else {
            // Column slabs keep every row together, so a shape the small path takes stays on it.
            boolean splitColumns = call.n() >= call.m() || blocking.small(call.m(), call.n(), call.k());
            long extent = splitColumns ? call.n() : call.m();
            int align = splitColumns ? kernel.nr() : kernel.mr();
            long tiles = (extent + align - 1) / align;
            int parts = (int) Math.min(threads, tiles);
            for (long item = 0; item < batch; item++) {
                long it = item;
                workers.run(parts, part -> {
                    long lo = Math.min(extent, tiles * part / parts * align);
                    long hi = Math.min(extent, tiles * (part + 1) / parts * align);
                    withScratch(s -> {
                        if (splitColumns) {
                            compute(call, a, b, c, it, 0, call.m(), lo, hi, s);
                        } else {
                            compute(call, a, b, c, it, lo, hi, 0, call.n(), s);
                        }
                    });
                });
            }
        }
    }

    /** One C tile of one group of a grouped GEMM: rows [i0, i1) and columns [j0, j1) of batch item {@code item}. */
    private record Tile(int group, long item, long i0, long i1, long j0, long j1, double work) { }

    /**
     * The groups of a grouped GEMM as one flat space of C tiles over every batch item of every group,
     * which the worker threads pull from one counter ({@link CpuWorkers#run}), largest first, so that
     * no thread waits at a group's end and the last tiles pulled are small ones.
     *
     * <p>Tiles cut one direction only, as {@link #run} does for one GEMM: columns where the groups'
     * columns outnumber their rows, else rows, and span the whole group the other way. A tile that
     * spans every row packs each kc×nc panel of B once for all its row blocks; tiles mc rows tall
     * (the first form of this method) packed the same panel once per row block, which cost the MoE
     * up-projection (ragged columns, 3584 rows) about a seventh of its time. A group is cut into
     * equal pieces of about 1/(4·threads) of the total extent (whole NR or MR units, columns at most
     * nc), enough for the threads to even out. Every element still sees the same kc slices in the
     * same order, so results do not depend on the thread count. {@code memory} holds each call's A,
     * B and C segments.
     */
    void runGrouped(List<GemmCall> calls, List<MemorySegment[]> memory) {
        int threads = workers.threads();
        double flops = 0;
        long rows = 0, columns = 0;
        for (int g = 0; g < calls.size(); g++) {
            GemmCall call = calls.get(g);
            if (call.k() == 0) {
                scale(call, memory.get(g)[2]);
                continue;
            }
            flops += 2.0 * call.m() * call.n() * call.k() * call.batchCount();
            rows += call.m() * call.batchCount();
            columns += call.n() * call.batchCount();
        }
        boolean splitColumns = columns >= rows;
        int align = splitColumns ? kernel.nr() : kernel.mr();
        long piece = Math.max(4L * align, Math.ceilDiv(splitColumns ? columns : rows, 4L * threads));
        if (splitColumns) {
            piece = Math.min(piece, blocking.nc());
        }
        List<Tile> tiles = new ArrayList<>();
        for (int g = 0; g < calls.size(); g++) {
            GemmCall call = calls.get(g);
            if (call.k() == 0) {
                continue;
            }
            long extent = splitColumns ? call.n() : call.m();
            long units = Math.ceilDiv(extent, align);
            long pieces = Math.min(units, Math.ceilDiv(extent, piece));
            for (long item = 0; item < call.batchCount(); item++) {
                for (long p = 0; p < pieces; p++) {
                    long lo = Math.min(extent, units * p / pieces * align), hi = Math.min(extent, units * (p + 1) / pieces * align);
                    double work = (double) (hi - lo) * (splitColumns ? call.m() : call.n()) * call.k();
                    tiles.add(splitColumns ? new Tile(g, item, 0, call.m(), lo, hi, work) : new Tile(g, item, lo, hi, 0, call.n(), work));
                }
            }
        }
        if (threads == 1 || flops < blocking.parallelMinFlops() || tiles.size() <= 1) {
            withScratch(s -> tiles.forEach(t -> computeTile(calls, memory, t, s)));
            return;
        }
        tiles.sort(java.util.Comparator.comparingDouble(Tile::work).reversed());
        workers.run(tiles.size(), t -> withScratch(s -> computeTile(calls, memory, tiles.get(t), s)));
    }

    private void computeTile(List<GemmCall> calls, List<MemorySegment[]> memory, Tile t, Scratch s) {
        MemorySegment[] m = memory.get(t.group());
        compute(calls.get(t.group()), m[0], m[1], m[2], t.item(), t.i0(), t.i1(), t.j0(), t.j1(), s);
    }

    /** C[i0:i1, j0:j1] of batch item {@code item}, on the calling thread. */
    private void compute(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c,
                         long item, long i0, long i1, long j0, long j1, Scratch s) {
        if (i0 >= i1 || j0 >= j1) {
            return;
        }
        if (i0 == 0 && i1 == call.m() && blocking.small(call.m(), call.n(), call.k())) {
            small.run(call, a, b, c, item, j0, j1, s);
            return;
        }
        long offC = call.offsetC() + item * call.strideC();
        if (!call.dtype().isNarrowFloat() || call.k() <= blocking.kc()) {
            compute(call, a, b, c, call.dtype(), offC, call.ldc(), item, i0, i1, j0, j1, s);
            return;
        }
        // A BF16/F16 C deeper than one k slice: accumulate every slice in an F32 copy of this part
        // of C and round once at the end, as one rounding per element promises.
        int rows = (int) (i1 - i0), cols = (int) (j1 - j0);
        MemorySegment wide = MemorySegment.ofArray(new float[Math.multiplyExact(rows, cols)]);
        long first = offC + i0 + j0 * call.ldc();
        float[] column = new float[rows];
        if (call.beta() != 0) {
            for (int j = 0; j < cols; j++) {
                Convert.toFloats(call.dtype(), c, first + j * call.ldc(), column, 0, rows);
                MemorySegment.copy(column, 0, wide, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) j * rows * 4, rows);
            }
        }
        compute(call, a, b, wide, DType.F32, -i0 - j0 * rows, rows, item, i0, i1, j0, j1, s);
        for (int j = 0; j < cols; j++) {
            MemorySegment.copy(wide, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) j * rows * 4, column, 0, rows);
            Convert.fromFloats(call.dtype(), column, 0, c, first + j * call.ldc(), rows);
        }
    }

    /** The five loops, with C of {@code cType} at {@code offC} (element (i, j) at offC + i + j·ldc). */
    private void compute(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, DType cType, long offC, long ldc,
                         long item, long i0, long i1, long j0, long j1, Scratch s) {
        long offA = call.offsetA() + item * call.strideA();
        long offB = call.offsetB() + item * call.strideB();
        boolean transA = call.transA() == Transpose.TRANS;
        boolean transB = call.transB() == Transpose.TRANS;
        DType in = call.inputType();
        // I32 results: each k slice is an exact sum from zero, scaled by alpha as an integer when stored.
        double tileAlpha = cType == DType.I32 ? 1 : call.alpha();
        int mr = kernel.mr(), nr = kernel.nr();
        long k = call.k();
        for (long jc = j0; jc < j1; jc += blocking.nc()) {
            int nc = (int) Math.min(blocking.nc(), j1 - jc);
            for (long pc = 0; pc < k; pc += blocking.kc()) {
                int kc = (int) Math.min(blocking.kc(), k - pc);
                // Later k slices accumulate onto what the first one wrote.
                double beta = pc == 0 ? call.beta() : 1;
                kernel.packB(s, in, call.zeroPointB(), b, offB, call.ldb(), transB, pc, kc, jc, nc);
                for (long ic = i0; ic < i1; ic += blocking.mc()) {
                    int mc = (int) Math.min(blocking.mc(), i1 - ic);
                    kernel.packA(s, in, call.zeroPointA(), a, offA, call.lda(), transA, ic, mc, pc, kc);
                    // One strip of C (mc rows, NR columns) at a time: loaded once, updated by every
                    // tile of the strip, stored once. Edges are handled here, never in the kernel.
                    int lds = roundUp(mc, mr);
                    for (int jr = 0; jr < nc; jr += nr) {
                        int cols = Math.min(nr, nc - jr);
                        long cAt = offC + ic + (jc + jr) * ldc;
                        kernel.loadStrip(s, cType, c, cAt, ldc, mc, cols, beta);
                        for (int ir = 0; ir < mc; ir += mr) {
                            kernel.tile(s, kc, ir * kc, jr * kc, ir, lds, tileAlpha);
                        }
                        kernel.storeStrip(s, cType, c, cAt, ldc, mc, cols, call.alpha(), beta);
                    }
                }
            }
        }
    }

    /** k == 0 (or alpha == 0): C := beta·C, with beta == 0 writing zero over anything (NaN included). */
    static void scale(GemmCall call, MemorySegment c) {
        DType type = call.dtype();
        for (long item = 0; item < call.batchCount(); item++) {
            long off = call.offsetC() + item * call.strideC();
            for (long j = 0; j < call.n(); j++) {
                long col = off + j * call.ldc();
                for (long i = 0; i < call.m(); i++) {
                    Convert.set(type, c, col + i, call.beta() == 0 ? 0 : scaled(type, call.beta(), Convert.get(type, c, col + i)));
                }
            }
        }
    }

    /** beta·x in the arithmetic of {@code type}: F32 for the float types, wrapping i32 for I32. */
    private static double scaled(DType type, double beta, double x) {
        return switch (type) {
            case F64 -> beta * x;
            case I32 -> (int) ((long) beta * (long) x);
            default -> (float) beta * (float) x;
        };
    }

    static int roundUp(int value, int multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }

    private static void withScratch(java.util.function.Consumer<Scratch> body) {
        Scratch s = Scratch.acquire();
        try {
            body.accept(s);
        } finally {
            Scratch.release(s);
        }
    }
}
