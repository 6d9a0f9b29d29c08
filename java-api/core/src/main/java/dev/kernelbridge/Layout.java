package dev.kernelbridge;

/** Storage order of a matrix: which index is contiguous in memory. */
public enum Layout {
    /** Row i is contiguous; element (i, j) lives at {@code offset + i*ld + j}. */
    ROW_MAJOR,
    /** Column j is contiguous (netlib BLAS); element (i, j) lives at {@code offset + i + j*ld}. */
    COLUMN_MAJOR
}
