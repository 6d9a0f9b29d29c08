package dev.kernelbridge.cpu;

import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;

/**
 * A GEMM kernel for shapes where packing does not pay: every row of a range of C's columns of one
 * batch item, k in one slice, on the calling thread. Its sums run in the same order as the packed kernel's, so the
 * result does not depend on which of the two a shape was given to.
 */
interface SmallKernel {
    /** Columns [j0, j1) of C of batch item {@code item} := alpha·op(A)·op(B) + beta·C, for 1 ≤ k ≤ the engine's kc. */
    void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, long item, long j0, long j1, Scratch scratch);
}
