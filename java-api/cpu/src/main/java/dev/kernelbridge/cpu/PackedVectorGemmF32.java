// GENERATED from src/template/dev/kernelbridge/cpu/PackedVectorGemm.java.template by
// ci/generate-sources; edit the template, not this file (GeneratedSourcesTest checks they agree).
package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.Convert;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * float GEMM pieces on the Vector API's preferred species: a 2V×12 register-blocked microkernel
 * (V = lanes per vector; 24 accumulators, two A vectors and one broadcast fit the 32 registers of
 * AVX-512; narrower machines spill a little) over packed panels. Storage types convert while they
 * are packed ({@link Convert#toFloats}): one microkernel per computation type serves every storage
 * type computed in it. Load only after {@link VectorGate} said the Vector API is readable.
 */
final class PackedVectorGemmF32 implements PackedKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
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
        float[] dst = scratch.floatA(BlockedGemm.roundUp(mc, MR) * kc);
        if (!trans && type != DType.F32) {
            // A storage type: convert whole columns (one call per mc elements, not per MR), a few at
            // a time, then deal them into the panels in the same order as below.
            float[] columns = scratch.floatColumn(PACK_COLUMNS * mc);
            for (int p0b = 0; p0b < kc; p0b += PACK_COLUMNS) {
                int pEnd = Math.min(kc, p0b + PACK_COLUMNS);
                for (int p = p0b; p < pEnd; p++) {
                    Convert.toFloats(type, a, offset + i0 + (p0 + p) * ld, columns, (p - p0b) * mc, mc);
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
                        Convert.toFloats(type, a, offset + i0 + ir + (p0 + p) * ld, dst, at, rows);
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
        float[] row = scratch.floatColumn(kc);
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int panel = ir * kc;
            for (int r = 0; r < rows; r++) {
                Convert.toFloats(type, a, offset + p0 + (i0 + ir + r) * ld, row, 0, kc);
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
        float[] dst = scratch.floatB(BlockedGemm.roundUp(nc, NR) * kc);
        if (trans && type != DType.F32) {
            // A storage type: row p of op(B) is contiguous; convert it whole (one call per nc
            // elements, not per NR), then deal it into the panels.
            float[] row = scratch.floatColumn(nc);
            for (int p = 0; p < kc; p++) {
                Convert.toFloats(type, b, offset + j0 + (p0 + p) * ld, row, 0, nc);
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
                    Convert.toFloats(type, b, offset + j0 + jr + (p0 + p) * ld, dst, at, cols);
                    shift(dst, at, cols, zeroPoint);
                    if (cols < NR) {
                        Arrays.fill(dst, at + cols, panel + (p + 1) * NR, 0);
                    }
                }
            } else {
                // Column j is contiguous over p: one bulk read, then a scatter inside the heap.
                float[] column = scratch.floatColumn(kc);
                for (int col = 0; col < cols; col++) {
                    Convert.toFloats(type, b, offset + p0 + (j0 + jr + col) * ld, column, 0, kc);
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
    private static void shift(float[] values, int at, int n, int zeroPoint) {
        if (zeroPoint != 0) {
            for (int i = at; i < at + n; i++) {
                values[i] -= zeroPoint;
            }
        }
    }

    @Override
    public void tile(Scratch scratch, int kc, int aPanel, int bPanel, int strip, int lds, double alpha) {
        float[] ap = scratch.floatA, bp = scratch.floatB;
        FloatVector zero = FloatVector.zero(S);
        FloatVector c00 = zero;
        FloatVector c10 = zero;
        FloatVector c01 = zero;
        FloatVector c11 = zero;
        FloatVector c02 = zero;
        FloatVector c12 = zero;
        FloatVector c03 = zero;
        FloatVector c13 = zero;
        FloatVector c04 = zero;
        FloatVector c14 = zero;
        FloatVector c05 = zero;
        FloatVector c15 = zero;
        FloatVector c06 = zero;
        FloatVector c16 = zero;
        FloatVector c07 = zero;
        FloatVector c17 = zero;
        FloatVector c08 = zero;
        FloatVector c18 = zero;
        FloatVector c09 = zero;
        FloatVector c19 = zero;
        FloatVector c0a = zero;
        FloatVector c1a = zero;
        FloatVector c0b = zero;
        FloatVector c1b = zero;
        for (int p = 0; p < kc; p++) {
            int ai = aPanel + p * MR;
            int bi = bPanel + p * NR;
            FloatVector a0 = FloatVector.fromArray(S, ap, ai);
            FloatVector a1 = FloatVector.fromArray(S, ap, ai + V);
            FloatVector b;
            b = FloatVector.broadcast(S, bp[bi + 0]);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            b = FloatVector.broadcast(S, bp[bi + 1]);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            b = FloatVector.broadcast(S, bp[bi + 2]);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            b = FloatVector.broadcast(S, bp[bi + 3]);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
            b = FloatVector.broadcast(S, bp[bi + 4]);
            c04 = a0.fma(b, c04);
            c14 = a1.fma(b, c14);
            b = FloatVector.broadcast(S, bp[bi + 5]);
            c05 = a0.fma(b, c05);
            c15 = a1.fma(b, c15);
            b = FloatVector.broadcast(S, bp[bi + 6]);
            c06 = a0.fma(b, c06);
            c16 = a1.fma(b, c16);
            b = FloatVector.broadcast(S, bp[bi + 7]);
            c07 = a0.fma(b, c07);
            c17 = a1.fma(b, c17);
            b = FloatVector.broadcast(S, bp[bi + 8]);
            c08 = a0.fma(b, c08);
            c18 = a1.fma(b, c18);
            b = FloatVector.broadcast(S, bp[bi + 9]);
            c09 = a0.fma(b, c09);
            c19 = a1.fma(b, c19);
            b = FloatVector.broadcast(S, bp[bi + 10]);
            c0a = a0.fma(b, c0a);
            c1a = a1.fma(b, c1a);
            b = FloatVector.broadcast(S, bp[bi + 11]);
            c0b = a0.fma(b, c0b);
            c1b = a1.fma(b, c1b);
        }
        // Update the C strip in place, in the registers' own layout: vector loads and stores on a
        // Java array are intrinsified wherever this method is inlined, unlike those on segments.
        float[] cs = scratch.floatStrip;
        FloatVector va = FloatVector.broadcast(S, (float) alpha);
        int at;
        at = strip + 0 * lds;
        c00.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c10.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 1 * lds;
        c01.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c11.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 2 * lds;
        c02.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c12.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 3 * lds;
        c03.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c13.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 4 * lds;
        c04.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c14.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 5 * lds;
        c05.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c15.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 6 * lds;
        c06.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c16.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 7 * lds;
        c07.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c17.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 8 * lds;
        c08.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c18.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 9 * lds;
        c09.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c19.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 10 * lds;
        c0a.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c1a.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at = strip + 11 * lds;
        c0b.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c1b.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
    }

    @Override
    public void loadStrip(Scratch scratch, DType type, MemorySegment c, long cOffset, long ldc, int rows, int cols, double betaIn) {
        int lds = BlockedGemm.roundUp(rows, MR);
        float[] cs = scratch.floatStrip(lds * NR);
        float beta = (float) betaIn;
        // I32 results: the tiles sum one exact slice from zero; storeStrip folds it into C.
        if (beta == 0 || type == DType.I32) {
            Arrays.fill(cs, 0, lds * NR, 0);
            return;
        }
        for (int j = 0; j < cols; j++) {
            Convert.toFloats(type, c, cOffset + j * ldc, cs, j * lds, rows);
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
        float[] cs = scratch.floatStrip;
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
            Convert.fromFloats(type, cs, j * lds, c, cOffset + j * ldc, rows);
        }
    }
}
