package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import java.lang.foreign.MemorySegment;

/**
 * The per-computation-type pieces of the BLIS-style GEMM: packing of A and B panels and an MR×NR
 * microkernel. {@link BlockedGemm} owns the loops around them, threading and scaling, once.
 * Storage types are converted while packing and while C strips move, so one microkernel serves
 * every storage type computed in its type (F32 for F32, BF16, F16 and, exactly, I8).
 * Everything here is column-major: element (i, j) of a matrix is at {@code offset + i + j·ld}.
 */
interface PackedKernel {
    /** Rows of a microkernel tile (a multiple of the vector length). */
    int mr();

    /** Columns of a microkernel tile. */
    int nr();

    /**
     * Packs rows [i0, i0+mc) × columns [p0, p0+kc) of op(A) into {@code scratch}'s A area as
     * ⌈mc/MR⌉ panels of MR×kc, each stored column by column, rows past mc zero-filled. A holds
     * {@code type}; {@code zeroPoint} is subtracted from every value.
     */
    void packA(Scratch scratch, DType type, int zeroPoint, MemorySegment a, long offset, long ld, boolean trans,
               long i0, int mc, long p0, int kc);

    /**
     * Packs rows [p0, p0+kc) × columns [j0, j0+nc) of op(B) into {@code scratch}'s B area as
     * ⌈nc/NR⌉ panels of kc×NR, each stored row by row, columns past nc zero-filled.
     */
    void packB(Scratch scratch, DType type, int zeroPoint, MemorySegment b, long offset, long ld, boolean trans,
               long p0, int kc, long j0, int nc);

    /**
     * Loads a strip of C, rows×cols at element {@code cOffset}, into the scratch strip (column
     * stride roundUp(rows, MR), NR columns) scaled by beta; beta == 0 zero-fills without reading C,
     * so NaN or Inf in C never survive. C holds {@code type}; an I32 strip always starts at zero.
     */
    void loadStrip(Scratch scratch, DType type, MemorySegment c, long cOffset, long ldc, int rows, int cols, double beta);

    /** strip := strip + alpha·(A panel · B panel) for the MR×NR tile at index {@code strip} (column stride lds). */
    void tile(Scratch scratch, int kc, int aPanel, int bPanel, int strip, int lds, double alpha);

    /**
     * Writes the valid rows×cols of the scratch strip back to C, rounded once to {@code type}; for
     * I32, C := beta·C + alpha·strip in wrapping integer arithmetic (the strip holds an exact sum).
     */
    void storeStrip(Scratch scratch, DType type, MemorySegment c, long cOffset, long ldc, int rows, int cols, double alpha, double beta);
}
