// GENERATED from src/template/dev/kernelbridge/cpu/PackedVectorGemm.java.template by
// ci/generate-sources; edit the template, not this file (GeneratedSourcesTest checks they agree).
package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.Convert;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * double GEMM pieces on the Vector API's preferred species: a 2V×12 register-blocked microkernel
 * (V = lanes per vector; 24 accumulators, two A vectors and one broadcast fit the 32 registers of
 * AVX-512; narrower machines spill a little) over packed panels. Storage types convert while they
 * are packed ({@link Convert#toDoubles}): one microkernel per computation type serves every storage
 * type computed in it. Load only after {@link VectorGate} said the Vector API is readable.
 */
final class PackedVectorGemmF64 implements PackedKernel {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int V = S.length();
    static final int MR = 2 * V;
    static final int NR = 12;
    /** Columns of A packed together; see packA. */
    private static final int PACK_COLUMNS = 8;

    @Override
    public int mr() { return MR; }

    @Override
    public int nr() { return NR; }

    @Override
    public void packA(Scratch scratch, DType type, int zeroPoint, MemorySegment a, long offset, long ld, boolean trans,
                      long i0, int mc, long p0, int kc) {
        double[] dst = scratch.doubleA(BlockedGemm.roundUp(mc, MR) * kc);
        if (!trans && type != DType.F64) {
            // A storage type: convert whole columns (one call per mc elements, not per MR), a few at
            // a time, then deal them into the panels in the same order as below.
            double[] columns = scratch.doubleColumn(PACK_COLUMNS * mc);
            for (int p0b = 0; p0b < kc; p0b += PACK_COLUMNS) {
                int pEnd = Math.min(kc, p0b + PACK_COLUMNS);
                for (int p = p0b; p < pEnd; p++) {
                    Convert.toDoubles(type, a, offset + i0 + (p0 + p) * ld, columns, (p - p0b) * mc, mc);
                    shift(columns, (p - p0b) * mc, mc, zeroPoint);
                }
                for (int ir = 0; ir < mc; ir += MR) {
                    int rows = Math.min(MR, mc - ir);
                    for (int p = p0b; p < pEnd; p++) {
                        int at = ir * kc + p * MR;
                        System.arraycopy(columns, (p - p0b) * mc + ir, dst, at, rows);
                        if (rows < MR) {
                            Arrays.fill(dst, at + rows, at + MR, 0);
                        }
                    }
                }
            }
            return;
        }
        if (!trans) {
            // Columns of A are contiguous. Walk a few columns at a time down the whole block, so
            // reads are a handful of sequential streams and each panel receives a contiguous
            // run: neither side strides by a large power of two (ld = 4096, or the panel size).
            for (int p0b = 0; p0b < kc; p0b += PACK_COLUMNS) {
                int pEnd = Math.min(kc, p0b + PACK_COLUMNS);
                for (int ir = 0; ir < mc; ir += MR) {
                    int rows = Math.min(MR, mc - ir);
                    for (int p = p0b; p < pEnd; p++) {
                        int at = ir * kc + p * MR;
                        Convert.toDoubles(type, a, offset + i0 + ir + (p0 + p) * ld, dst, at, rows);
                        shift(dst, at, rows, zeroPoint);
                        if (rows < MR) {
                            Arrays.fill(dst, at + rows, at + MR, 0);
                        }
                    }
                }
            }
            return;
        }
        // Row i of op(A) is contiguous over p: one bulk read, then a scatter inside the heap.
        double[] row = scratch.doubleColumn(kc);
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int panel = ir * kc;
            for (int r = 0; r < rows; r++) {
                Convert.toDoubles(type, a, offset + p0 + (i0 + ir + r) * ld, row, 0, kc);
                shift(row, 0, kc, zeroPoint);
                for (int p = 0; p < kc; p++) {
                    dst[panel + p * MR + r] = row[p];
                }
            }
            for (int r = rows; r < MR; r++) {
                for (int p = 0; p < kc; p++) {
                    dst[panel + p * MR + r] = 0;
                }
            }
        }
    }

    @Override
    public void packB(Scratch scratch, DType type, int zeroPoint, MemorySegment b, long offset, long ld, boolean trans,
                      long p0, int kc, long j0, int nc) {
        double[] dst = scratch.doubleB(BlockedGemm.roundUp(nc, NR) * kc);
        if (trans && type != DType.F64) {
            // A storage type: row p of op(B) is contiguous; convert it whole (one call per nc
            // elements, not per NR), then deal it into the panels.
            double[] row = scratch.doubleColumn(nc);
            for (int p = 0; p < kc; p++) {
                Convert.toDoubles(type, b, offset + j0 + (p0 + p) * ld, row, 0, nc);
                shift(row, 0, nc, zeroPoint);
                for (int jr = 0; jr < nc; jr += NR) {
                    int cols = Math.min(NR, nc - jr);
                    int at = jr * kc + p * NR;
                    System.arraycopy(row, jr, dst, at, cols);
                    if (cols < NR) {
                        Arrays.fill(dst, at + cols, at + NR, 0);
                    }
                }
            }
            return;
        }
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int panel = jr * kc;
            if (trans) {
                // Row p of op(B) is contiguous in memory: one bulk read per packed row.
                for (int p = 0; p < kc; p++) {
                    int at = panel + p * NR;
                    Convert.toDoubles(type, b, offset + j0 + jr + (p0 + p) * ld, dst, at, cols);
                    shift(dst, at, cols, zeroPoint);
                    if (cols < NR) {
                        Arrays.fill(dst, at + cols, panel + (p + 1) * NR, 0);
                    }
                }
            } else {
                // Column j is contiguous over p: one bulk read, then a scatter inside the heap.
                double[] column = scratch.doubleColumn(kc);
                for (int col = 0; col < cols; col++) {
                    Convert.toDoubles(type, b, offset + p0 + (j0 + jr + col) * ld, column, 0, kc);
                    shift(column, 0, kc, zeroPoint);
                    for (int p = 0; p < kc; p++) {
                        dst[panel + p * NR + col] = column[p];
                    }
                }
                for (int col = cols; col < NR; col++) {
                    for (int p = 0; p < kc; p++) {
                        dst[panel + p * NR + col] = 0;
                    }
                }
            }
        }
    }

    /** x − zeroPoint for every packed value; I8 differences are exact in any float type. */
    private static void shift(double[] values, int at, int n, int zeroPoint) {
        if (zeroPoint != 0) {
            for (int i = at; i < at + n; i++) {
                values[i] -= zeroPoint;
            }
        }
    }

    @Override
    public void tile(Scratch scratch, int kc, int aPanel, int bPanel, int strip, int lds, double alpha) {
        double[] ap = scratch.doubleA, bp = scratch.doubleB;
        DoubleVector zero = DoubleVector.zero(S);
        DoubleVector c00 = zero;
        DoubleVector c10 = zero;
        DoubleVector c01 = zero;
        DoubleVector c11 = zero;
        DoubleVector c02 = zero;
        DoubleVector c12 = zero;
        DoubleVector c03 = zero;
        DoubleVector c13 = zero;
        DoubleVector c04 = zero;
        DoubleVector c14 = zero;
        DoubleVector c05 = zero;
        DoubleVector c15 = zero;
        DoubleVector c06 = zero;
        DoubleVector c16 = zero;
        DoubleVector c07 = zero;
        DoubleVector c17 = zero;
        DoubleVector c08 = zero;
        DoubleVector c18 = zero;
        DoubleVector c09 = zero;
        DoubleVector c19 = zero;
        DoubleVector c0a = zero;
        DoubleVector c1a = zero;
        DoubleVector c0b = zero;
        DoubleVector c1b = zero;
        for (int p = 0; p < kc; p++) {
            int ai = aPanel + p * MR;
            int bi = bPanel + p * NR;
            DoubleVector a0 = DoubleVector.fromArray(S, ap, ai);
            DoubleVector a1 = DoubleVector.fromArray(S, ap, ai + V);
            DoubleVector b;
            b = DoubleVector.broadcast(S, bp[bi + 0]);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            b = DoubleVector.broadcast(S, bp[bi + 1]);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            b = DoubleVector.broadcast(S, bp[bi + 2]);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            b = DoubleVector.broadcast(S, bp[bi + 3]);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
            b = DoubleVector.broadcast(S, bp[bi + 4]);
            c04 = a0.fma(b, c04);
            c14 = a1.fma(b, c14);
            b = DoubleVector.broadcast(S, bp[bi + 5]);
            c05 = a0.fma(b, c05);
            c15 = a1.fma(b, c15);
            b = DoubleVector.broadcast(S, bp[bi + 6]);
            c06 = a0.fma(b, c06);
            c16 = a1.fma(b, c16);
            b = DoubleVector.broadcast(S, bp[bi + 7]);
            c07 = a0.fma(b, c07);
            c17 = a1.fma(b, c17);
            b = DoubleVector.broadcast(S, bp[bi + 8]);
            c08 = a0.fma(b, c08);
            c18 = a1.fma(b, c18);
            b = DoubleVector.broadcast(S, bp[bi + 9]);
            c09 = a0.fma(b, c09);
            c19 = a1.fma(b, c19);
            b = DoubleVector.broadcast(S, bp[bi + 10]);
            c0a = a0.fma(b, c0a);
            c1a = a1.fma(b, c1a);
            b = DoubleVector.broadcast(S, bp[bi + 11]);
            c0b = a0.fma(b, c0b);
            c1b = a1.fma(b, c1b);
        }
        // Update the C strip in place, in the registers' own layout: vector loads and stores on a
        // Java array are intrinsified wherever this method is inlined, unlike those on segments.
        double[] cs = scratch.doubleStrip;
        DoubleVector va = DoubleVector.broadcast(S, (double) alpha);
        int at;
        at = strip + 0 * lds;
        c00.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c10.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 1 * lds;
        c01.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c11.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 2 * lds;
        c02.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c12.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 3 * lds;
        c03.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c13.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 4 * lds;
        c04.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c14.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 5 * lds;
        c05.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c15.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 6 * lds;
        c06.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c16.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 7 * lds;
        c07.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c17.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 8 * lds;
        c08.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c18.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 9 * lds;
        c09.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c19.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 10 * lds;
        c0a.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c1a.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 11 * lds;
        c0b.fma(va, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
        c1b.fma(va, DoubleVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
    }

    @Override
    public void loadStrip(Scratch scratch, DType type, MemorySegment c, long cOffset, long ldc, int rows, int cols, double betaIn) {
        int lds = BlockedGemm.roundUp(rows, MR);
        double[] cs = scratch.doubleStrip(lds * NR);
        double beta = (double) betaIn;
        // I32 results: the tiles sum one exact slice from zero; storeStrip folds it into C.
        if (beta == 0 || type == DType.I32) {
            Arrays.fill(cs, 0, lds * NR, 0);
            return;
        }
        for (int j = 0; j < cols; j++) {
            Convert.toDoubles(type, c, cOffset + j * ldc, cs, j * lds, rows);
        }
        if (beta != 1) {
            for (int i = 0; i < lds * cols; i++) {
                cs[i] *= beta;
            }
        }
    }

    @Override
    public void storeStrip(Scratch scratch, DType type, MemorySegment c, long cOffset, long ldc, int rows, int cols,
                           double alpha, double beta) {
        int lds = BlockedGemm.roundUp(rows, MR);
        double[] cs = scratch.doubleStrip;
        if (type == DType.I32) {
            // C := beta·C + alpha·slice in i32 arithmetic, wrapping as the integer GEMMs of BLAS do.
            int a = (int) alpha, bt = (int) beta;
            int[] column = scratch.intColumn(rows);
            for (int j = 0; j < cols; j++) {
                long at = (cOffset + j * ldc) * 4;
                if (bt == 0) {
                    Arrays.fill(column, 0, rows, 0);
                } else {
                    MemorySegment.copy(c, ValueLayout.JAVA_INT_UNALIGNED, at, column, 0, rows);
                }
                int s = j * lds;
                for (int i = 0; i < rows; i++) {
                    column[i] = bt * column[i] + a * (int) cs[s + i];
                }
                MemorySegment.copy(column, 0, c, ValueLayout.JAVA_INT_UNALIGNED, at, rows);
            }
            return;
        }
        for (int j = 0; j < cols; j++) {
            Convert.fromDoubles(type, cs, j * lds, c, cOffset + j * ldc, rows);
        }
    }
}
