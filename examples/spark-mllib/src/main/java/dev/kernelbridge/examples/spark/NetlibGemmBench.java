package dev.kernelbridge.examples.spark;

import dev.kernelbridge.netlib.LudovicBLAS;
import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import java.util.Arrays;
import java.util.Random;

/**
 * The netlib GEMM call itself, n×n×n, through dev.ludovic.netlib's own Java BLAS and through
 * KernelBridge's seam, in one JVM: each routine warmed up, then timed as the median of repeated
 * calls on the same operands; results are compared before timing. Prints one RESULT line per
 * routine and implementation (milliseconds and GFLOP/s).
 *
 * <p>Usage: NetlibGemmBench n repetitions
 */
public final class NetlibGemmBench {
    private NetlibGemmBench() { }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]), reps = Integer.parseInt(args[1]);
        BLAS stock = JavaBLAS.getInstance(), ours = LudovicBLAS.getInstance();
        Random r = new Random(7);
        double[] a = new double[n * n], b = new double[n * n];
        float[] fa = new float[n * n], fb = new float[n * n];
        for (int i = 0; i < n * n; i++) {
            a[i] = r.nextDouble() - 0.5; b[i] = r.nextDouble() - 0.5;
            fa[i] = (float) a[i]; fb[i] = (float) b[i];
        }
        double[] c1 = new double[n * n], c2 = new double[n * n];
        stock.dgemm("N", "N", n, n, n, 1, a, n, b, n, 0, c1, n);
        ours.dgemm("N", "N", n, n, n, 1, a, n, b, n, 0, c2, n);
        for (int i = 0; i < c1.length; i++) {
            if (Math.abs(c1[i] - c2[i]) > 1e-10 * n) throw new AssertionError("dgemm results differ at " + i);
        }
        double flop = 2.0 * n * n * n;
        for (String routine : new String[] {"dgemm", "sgemm"}) {
            for (BLAS blas : new BLAS[] {stock, ours}) {
                double[] ms = new double[reps];
                float[] fc = new float[n * n];
                // Warm-up by time as well as count: both sides are Vector API code, which runs
                // interpreted until C2 compiles it (up to a second or so into a loop).
                long warmEnd = System.nanoTime() + 2_000_000_000L;
                for (int w = 0; w < Math.max(2, reps / 2) || System.nanoTime() < warmEnd; w++) {
                    if (routine.equals("dgemm")) blas.dgemm("N", "N", n, n, n, 1, a, n, b, n, 0, c1, n);
                    else blas.sgemm("N", "N", n, n, n, 1f, fa, n, fb, n, 0f, fc, n);
                }
                for (int i = 0; i < reps; i++) {
                    long t = System.nanoTime();
                    if (routine.equals("dgemm")) blas.dgemm("N", "N", n, n, n, 1, a, n, b, n, 0, c1, n);
                    else blas.sgemm("N", "N", n, n, n, 1f, fa, n, fb, n, 0f, fc, n);
                    ms[i] = (System.nanoTime() - t) / 1e6;
                }
                Arrays.sort(ms);
                double median = ms[reps / 2];
                System.out.printf("RESULT routine=%s impl=%s n=%d ms=%.3f gflops=%.2f%n", routine,
                        blas == ours ? "kernelbridge" : blas.getClass().getSimpleName(), n, median, flop / median / 1e6);
            }
        }
    }
}
