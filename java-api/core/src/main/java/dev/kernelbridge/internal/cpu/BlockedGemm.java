package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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
    private final Blocking blocking;
    private final CpuWorkers workers;

    BlockedGemm(PackedKernel kernel, Blocking blocking, CpuWorkers workers) {
        this.kernel = kernel;
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
            boolean splitColumns = call.n() >= call.m();
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

    /** C[i0:i1, j0:j1] of batch item {@code item}, on the calling thread. */
    private void compute(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c,
                         long item, long i0, long i1, long j0, long j1, Scratch s) {
        if (i0 >= i1 || j0 >= j1) {
            return;
        }
        long offA = call.offsetA() + item * call.strideA();
        long offB = call.offsetB() + item * call.strideB();
        long offC = call.offsetC() + item * call.strideC();
        boolean transA = call.transA() == Transpose.TRANS;
        boolean transB = call.transB() == Transpose.TRANS;
        int mr = kernel.mr(), nr = kernel.nr();
        long k = call.k(), ldc = call.ldc();
        for (long jc = j0; jc < j1; jc += blocking.nc()) {
            int nc = (int) Math.min(blocking.nc(), j1 - jc);
            for (long pc = 0; pc < k; pc += blocking.kc()) {
                int kc = (int) Math.min(blocking.kc(), k - pc);
                // Later k slices accumulate onto what the first one wrote.
                double beta = pc == 0 ? call.beta() : 1;
                kernel.packB(s, b, offB, call.ldb(), transB, pc, kc, jc, nc);
                for (long ic = i0; ic < i1; ic += blocking.mc()) {
                    int mc = (int) Math.min(blocking.mc(), i1 - ic);
                    kernel.packA(s, a, offA, call.lda(), transA, ic, mc, pc, kc);
                    // One strip of C (mc rows, NR columns) at a time: loaded once, updated by every
                    // tile of the strip, stored once. Edges are handled here, never in the kernel.
                    int lds = roundUp(mc, mr);
                    for (int jr = 0; jr < nc; jr += nr) {
                        int cols = Math.min(nr, nc - jr);
                        long cAt = offC + ic + (jc + jr) * ldc;
                        kernel.loadStrip(s, c, cAt, ldc, mc, cols, beta);
                        for (int ir = 0; ir < mc; ir += mr) {
                            kernel.tile(s, kc, ir * kc, jr * kc, ir, lds, call.alpha());
                        }
                        kernel.storeStrip(s, c, cAt, ldc, mc, cols);
                    }
                }
            }
        }
    }

    /** k == 0 (or alpha == 0): C := beta·C, with beta == 0 writing +0 over anything. */
    static void scale(GemmCall call, MemorySegment c) {
        for (long item = 0; item < call.batchCount(); item++) {
            long off = call.offsetC() + item * call.strideC();
            for (long j = 0; j < call.n(); j++) {
                long col = off + j * call.ldc();
                if (call.dtype() == DType.F32) {
                    float beta = (float) call.beta();
                    for (long i = 0; i < call.m(); i++) {
                        ValueLayout.OfFloat e = ValueLayout.JAVA_FLOAT_UNALIGNED;
                        c.setAtIndex(e, col + i, beta == 0 ? 0f : c.getAtIndex(e, col + i) * beta);
                    }
                } else {
                    double beta = call.beta();
                    for (long i = 0; i < call.m(); i++) {
                        ValueLayout.OfDouble e = ValueLayout.JAVA_DOUBLE_UNALIGNED;
                        c.setAtIndex(e, col + i, beta == 0 ? 0d : c.getAtIndex(e, col + i) * beta);
                    }
                }
            }
        }
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
