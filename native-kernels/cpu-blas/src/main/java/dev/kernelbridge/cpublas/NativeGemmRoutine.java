package dev.kernelbridge.cpublas;

import dev.kernelbridge.Transpose;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the native routines share: how Java arrays reach a library (the built-in CPU device hands a
 * framework's arrays over in place), and one call at a time across all of them — their threads are
 * the CPU device's cores, and two libraries' thread teams at once would oversubscribe them.
 */
abstract class NativeGemmRoutine implements CpuGemmRoutine {
    /**
     * Multiply-adds up to which a call on Java arrays runs as a critical call (GC held off): n = 256,
     * at most about half a millisecond here. Above it, copying the operands costs under a tenth of
     * the GEMM, and a longer hold of the GC would cost the rest of the program more.
     */
    static final long CRITICAL_WORK = 1L << 24;
    /** Staging memory kept between calls up to this size: allocating it afresh costs zeroing and page faults on every call. */
    private static final long KEPT_STAGING_BYTES = 64L << 20;

    private static final ReentrantLock ONE_AT_A_TIME = new ReentrantLock();
    /** Guarded by {@link #ONE_AT_A_TIME}: the staging memory of the last large call on Java arrays, reused by the next. */
    private static Arena stagingArena;
    private static MemorySegment staging;

    /**
     * Runs every batch item of {@code call} on {@code a}, {@code b}, {@code c}; {@code heap}: some are
     * Java arrays and the call is small, so the library's critical bindings must be used.
     */
    abstract void runItems(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, boolean heap);

    @Override
    public final void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        boolean heap = !a.isNative() || !b.isNative() || !c.isNative();
        long work = call.m() * call.n() * call.k() * call.batchCount();
        if (heap && work > CRITICAL_WORK) {
            runStaged(call, a, b, c);
            return;
        }
        ONE_AT_A_TIME.lock();
        try {
            runItems(call, a, b, c, heap);
        } finally {
            ONE_AT_A_TIME.unlock();
        }
    }

    /**
     * A large call on Java arrays: each heap operand's footprint is copied into native memory (O(n²)
     * against the GEMM's O(n³)), C back afterwards; native operands are used in place. The staging
     * memory is kept for the next call (up to 64 MiB) and used under the one-call-at-a-time lock.
     */
    private void runStaged(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        long in = call.inputType().byteSize(), out = call.dtype().byteSize();
        boolean ta = call.transA() != Transpose.NO_TRANS, tb = call.transB() != Transpose.NO_TRANS;
        long[] fa = footprint(call.offsetA(), call.lda(), ta ? call.k() : call.m(), ta ? call.m() : call.k(), call.strideA(), call.batchCount());
        long[] fb = footprint(call.offsetB(), call.ldb(), tb ? call.n() : call.k(), tb ? call.k() : call.n(), call.strideB(), call.batchCount());
        long[] fc = footprint(call.offsetC(), call.ldc(), call.m(), call.n(), call.strideC(), call.batchCount());
        long bytesA = a.isNative() ? 0 : aligned(fa[1] * in), bytesB = b.isNative() ? 0 : aligned(fb[1] * in);
        long bytesC = c.isNative() ? 0 : aligned(fc[1] * out);
        long total = Math.max(1, bytesA + bytesB + bytesC);
        GemmCall local = rebased(call, a.isNative() ? 0 : fa[0], b.isNative() ? 0 : fb[0], c.isNative() ? 0 : fc[0]);
        ONE_AT_A_TIME.lock();
        try (Arena once = total > KEPT_STAGING_BYTES ? NativeMemory.confined() : null) {
            MemorySegment memory = once != null ? once.allocate(total, 64) : kept(total);
            MemorySegment na = a.isNative() ? a : staged(memory.asSlice(0, bytesA), a, fa, in);
            MemorySegment nb = b.isNative() ? b : staged(memory.asSlice(bytesA, bytesB), b, fb, in);
            MemorySegment nc = c.isNative() ? c : staged(memory.asSlice(bytesA + bytesB, bytesC), c, fc, out);
            runItems(local, na, nb, nc, false);
            if (!c.isNative()) {
                MemorySegment.copy(nc, 0, c, fc[0] * out, fc[1] * out);
            }
        } finally {
            ONE_AT_A_TIME.unlock();
        }
    }

    /** The kept staging memory, grown to {@code bytes} if smaller. Called under {@link #ONE_AT_A_TIME}. */
    private static MemorySegment kept(long bytes) {
        if (staging == null || staging.byteSize() < bytes) {
            if (stagingArena != null) {
                stagingArena.close();
            }
            stagingArena = Arena.ofShared();
            staging = stagingArena.allocate(bytes, 64);
        }
        return staging;
    }

    private static long aligned(long bytes) {
        return (bytes + 63) & ~63L;
    }

    /** {first element, element count} that a matrix of {@code cols} columns of {@code rows} rows, batch and all, spans. */
    private static long[] footprint(long offset, long ld, long rows, long cols, long stride, long batch) {
        long span = (batch - 1) * stride + (cols - 1) * ld + rows;
        return new long[] {offset, Math.max(0, span)};
    }

    private static MemorySegment staged(MemorySegment into, MemorySegment heap, long[] footprint, long es) {
        MemorySegment.copy(heap, footprint[0] * es, into, 0, footprint[1] * es);
        return into;
    }

    /** {@code call} with its offsets moved back by what staging cut off the front (A, B, C; 0: unchanged). */
    private static GemmCall rebased(GemmCall call, long cutA, long cutB, long cutC) {
        return new GemmCall(call.dtype(), call.transA(), call.transB(), call.m(), call.n(), call.k(), call.alpha(),
                call.a(), call.offsetA() - cutA, call.lda(), call.strideA(), call.b(), call.offsetB() - cutB, call.ldb(), call.strideB(),
                call.beta(), call.c(), call.offsetC() - cutC, call.ldc(), call.strideC(), call.batchCount(),
                call.inputType(), call.zeroPointA(), call.zeroPointB());
    }

    /** {@code segment} from {@code bytes} on; the segment itself at 0, so a tiny call allocates no slice. */
    static MemorySegment at(MemorySegment segment, long bytes) {
        return bytes == 0 ? segment : segment.asSlice(bytes);
    }

    /** Why a column-major call's leading dimensions are below what BLAS-like libraries accept, or null. */
    static String shortLeadingDimension(GemmCall call) {
        long rowsA = call.transA() == Transpose.NO_TRANS ? call.m() : call.k();
        long rowsB = call.transB() == Transpose.NO_TRANS ? call.k() : call.n();
        if (call.lda() < Math.max(1, rowsA) || call.ldb() < Math.max(1, rowsB) || call.ldc() < Math.max(1, call.m())) {
            return "a leading dimension below the library's minimum (the rows of the matrix as stored)";
        }
        return null;
    }
}
