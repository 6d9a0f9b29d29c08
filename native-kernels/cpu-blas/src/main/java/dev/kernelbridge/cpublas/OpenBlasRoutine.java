package dev.kernelbridge.cpublas;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * F32 and F64 GEMM through OpenBLAS's CBLAS, column-major like {@link GemmCall}, one call per batch
 * item. It takes what CBLAS defines exactly as our contract does and refuses the rest: other type
 * pairs (Debian's OpenBLAS 0.3.21 exports no SBGEMM), k = 0, sizes beyond 32-bit ints, and leading
 * dimensions below CBLAS's minimum (CBLAS rejects those with an error printed to stderr). With
 * beta = 0, OpenBLAS zeroes C before accumulating, so NaN in C never survives, as our contract says.
 */
final class OpenBlasRoutine implements CpuGemmRoutine {
    static final String NAME = "openblas";

    private final OpenBlas lib;
    private final String description;
    /** One call at a time: OpenBLAS's threads are the CPU device's cores, and two calls would oversubscribe them. */
    private final ReentrantLock lock = new ReentrantLock();

    OpenBlasRoutine(OpenBlas lib, int threads) {
        this.lib = lib;
        lib.setThreads(threads);
        this.description = lib.config() + " (" + lib.coreName() + " kernels, " + threads + " threads)";
    }

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return description; }

    @Override
    public String refusal(GemmCall call) {
        if (call.inputType() != call.dtype() || (call.dtype() != DType.F32 && call.dtype() != DType.F64)) {
            return "CBLAS has no " + call.inputType().label() + " -> " + call.dtype().label() + " GEMM";
        }
        if (call.k() == 0) {
            return "k = 0 (C := beta·C) stays with the Vector API kernels";
        }
        long max = Integer.MAX_VALUE;
        if (call.m() > max || call.n() > max || call.k() > max || call.lda() > max || call.ldb() > max || call.ldc() > max) {
            return "sizes or leading dimensions beyond CBLAS's 32-bit ints";
        }
        long rowsA = call.transA() == Transpose.NO_TRANS ? call.m() : call.k();
        long rowsB = call.transB() == Transpose.NO_TRANS ? call.k() : call.n();
        if (call.lda() < Math.max(1, rowsA) || call.ldb() < Math.max(1, rowsB) || call.ldc() < Math.max(1, call.m())) {
            return "a leading dimension below CBLAS's minimum (the rows of the matrix as stored)";
        }
        return null;
    }

    /** Multiply-adds up to which a call on Java arrays runs as a critical call (GC held off): about 0.1 ms of work. */
    static final long CRITICAL_WORK = 1L << 21;

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        boolean heap = !a.isNative() || !b.isNative() || !c.isNative();
        long work = call.m() * call.n() * call.k() * call.batchCount();
        if (heap && work > CRITICAL_WORK) {
            runStaged(call, a, b, c);
            return;
        }
        lock.lock();
        try {
            runItems(call, a, b, c, heap);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A large call on Java arrays: each heap operand's footprint is copied into native memory (O(n²)
     * against the GEMM's O(n³)), C back afterwards; native operands are used in place.
     */
    private void runStaged(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        long es = call.dtype().byteSize();
        boolean ta = call.transA() != Transpose.NO_TRANS, tb = call.transB() != Transpose.NO_TRANS;
        long[] fa = footprint(call.offsetA(), call.lda(), ta ? call.k() : call.m(), ta ? call.m() : call.k(), call.strideA(), call.batchCount());
        long[] fb = footprint(call.offsetB(), call.ldb(), tb ? call.n() : call.k(), tb ? call.k() : call.n(), call.strideB(), call.batchCount());
        long[] fc = footprint(call.offsetC(), call.ldc(), call.m(), call.n(), call.strideC(), call.batchCount());
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment na = a.isNative() ? a : staged(arena, a, fa, es);
            MemorySegment nb = b.isNative() ? b : staged(arena, b, fb, es);
            MemorySegment nc = c.isNative() ? c : staged(arena, c, fc, es);
            GemmCall local = rebased(call, a.isNative() ? 0 : fa[0], b.isNative() ? 0 : fb[0], c.isNative() ? 0 : fc[0]);
            lock.lock();
            try {
                runItems(local, na, nb, nc, false);
            } finally {
                lock.unlock();
            }
            if (!c.isNative()) {
                MemorySegment.copy(nc, 0, c, fc[0] * es, fc[1] * es);
            }
        }
    }

    /** {first element, element count} that a matrix of {@code cols} columns of {@code rows} rows, batch and all, spans. */
    private static long[] footprint(long offset, long ld, long rows, long cols, long stride, long batch) {
        long span = (batch - 1) * stride + (cols - 1) * ld + rows;
        return new long[] {offset, Math.max(0, span)};
    }

    private static MemorySegment staged(Arena arena, MemorySegment heap, long[] footprint, long es) {
        MemorySegment copy = arena.allocate(Math.max(1, footprint[1] * es), 64);
        MemorySegment.copy(heap, footprint[0] * es, copy, 0, footprint[1] * es);
        return copy;
    }

    /** {@code call} with its offsets moved back by what staging cut off the front (A, B, C; 0: unchanged). */
    private static GemmCall rebased(GemmCall call, long cutA, long cutB, long cutC) {
        return new GemmCall(call.dtype(), call.transA(), call.transB(), call.m(), call.n(), call.k(), call.alpha(),
                call.a(), call.offsetA() - cutA, call.lda(), call.strideA(), call.b(), call.offsetB() - cutB, call.ldb(), call.strideB(),
                call.beta(), call.c(), call.offsetC() - cutC, call.ldc(), call.strideC(), call.batchCount(),
                call.inputType(), call.zeroPointA(), call.zeroPointB());
    }

    private void runItems(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, boolean heap) {
        long es = call.dtype().byteSize();
        int ta = call.transA() == Transpose.NO_TRANS ? OpenBlas.NO_TRANS : OpenBlas.TRANS;
        int tb = call.transB() == Transpose.NO_TRANS ? OpenBlas.NO_TRANS : OpenBlas.TRANS;
        int m = (int) call.m(), n = (int) call.n(), k = (int) call.k();
        int lda = (int) call.lda(), ldb = (int) call.ldb(), ldc = (int) call.ldc();
        MethodHandle sgemm = heap ? lib.sgemmHeap : lib.sgemm, dgemm = heap ? lib.dgemmHeap : lib.dgemm;
        try {
            for (long item = 0; item < call.batchCount(); item++) {
                MemorySegment ai = a.asSlice((call.offsetA() + item * call.strideA()) * es);
                MemorySegment bi = b.asSlice((call.offsetB() + item * call.strideB()) * es);
                MemorySegment ci = c.asSlice((call.offsetC() + item * call.strideC()) * es);
                if (call.dtype() == DType.F32) {
                    sgemm.invokeExact(OpenBlas.COL_MAJOR, ta, tb, m, n, k, (float) call.alpha(), ai, lda, bi, ldb, (float) call.beta(), ci, ldc);
                } else {
                    dgemm.invokeExact(OpenBlas.COL_MAJOR, ta, tb, m, n, k, call.alpha(), ai, lda, bi, ldb, call.beta(), ci, ldc);
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_" + (call.dtype() == DType.F32 ? "s" : "d") + "gemm failed", t);
        }
    }
}
