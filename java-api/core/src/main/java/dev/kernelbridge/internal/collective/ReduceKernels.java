package dev.kernelbridge.internal.collective;

import dev.kernelbridge.ReduceOp;

/**
 * Element-wise combining loops, plain enough for C2 to vectorise (add, mul, min, max on arrays).
 * AVG combines as SUM; the division happens once at the end.
 */
final class ReduceKernels {
    private ReduceKernels() { }

    static void combine(ReduceOp op, float[] acc, float[] x, int n) {
        switch (op) {
            case SUM, AVG -> { for (int i = 0; i < n; i++) { acc[i] += x[i]; } }
            case PROD -> { for (int i = 0; i < n; i++) { acc[i] *= x[i]; } }
            case MIN -> { for (int i = 0; i < n; i++) { acc[i] = Math.min(acc[i], x[i]); } }
            case MAX -> { for (int i = 0; i < n; i++) { acc[i] = Math.max(acc[i], x[i]); } }
        }
    }

    static void combine(ReduceOp op, double[] acc, double[] x, int n) {
        switch (op) {
            case SUM, AVG -> { for (int i = 0; i < n; i++) { acc[i] += x[i]; } }
            case PROD -> { for (int i = 0; i < n; i++) { acc[i] *= x[i]; } }
            case MIN -> { for (int i = 0; i < n; i++) { acc[i] = Math.min(acc[i], x[i]); } }
            case MAX -> { for (int i = 0; i < n; i++) { acc[i] = Math.max(acc[i], x[i]); } }
        }
    }

    static void divide(float[] acc, int ranks, int n) {
        float d = ranks;
        for (int i = 0; i < n; i++) {
            acc[i] /= d;
        }
    }

    static void divide(double[] acc, int ranks, int n) {
        double d = ranks;
        for (int i = 0; i < n; i++) {
            acc[i] /= d;
        }
    }
}
