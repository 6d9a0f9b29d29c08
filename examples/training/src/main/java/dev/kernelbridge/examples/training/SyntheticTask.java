package dev.kernelbridge.examples.training;

import java.util.SplittableRandom;

/**
 * A seeded classification task that an MLP can learn: inputs uniform in [-1, 1), labels the argmax of
 * a fixed random teacher network (inputs → 64 tanh units → classes). Sample i depends only on the
 * seed and i, so every rank makes its own shard of a batch without talking to the others, and a
 * resumed run sees the same data as the uninterrupted one. No downloads.
 */
final class SyntheticTask {
    static final int DATASET_SIZE = 16_384;
    private static final int TEACHER_HIDDEN = 64;

    final int inputs, classes;
    private final long seed;
    private final double[] teacher1, teacher2;

    SyntheticTask(long seed, int inputs, int classes) {
        this.seed = seed;
        this.inputs = inputs;
        this.classes = classes;
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 1);
        teacher1 = gaussian(r, inputs * TEACHER_HIDDEN, 1.5 / Math.sqrt(inputs));
        teacher2 = gaussian(r, TEACHER_HIDDEN * classes, 1.5 / Math.sqrt(TEACHER_HIDDEN));
    }

    /** Writes sample {@code index}'s inputs (on the activation grid) into row {@code row} of {@code x}; returns its label. */
    int sample(long index, double[] x, int row) {
        SplittableRandom r = new SplittableRandom(seed ^ (Math.floorMod(index, DATASET_SIZE) * 0xBF58476D1CE4E5B9L));
        int base = row * inputs;
        for (int i = 0; i < inputs; i++) {
            x[base + i] = FixedPoint.ACTIVATION.round(r.nextDouble(-1, 1));
        }
        double[] h = new double[TEACHER_HIDDEN];
        for (int j = 0; j < TEACHER_HIDDEN; j++) {
            double s = 0;
            for (int i = 0; i < inputs; i++) {
                s += x[base + i] * teacher1[i * TEACHER_HIDDEN + j];
            }
            h[j] = StrictMath.tanh(s);
        }
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            double s = 0;
            for (int j = 0; j < TEACHER_HIDDEN; j++) {
                s += h[j] * teacher2[j * classes + c];
            }
            if (s > bestScore) {
                bestScore = s;
                best = c;
            }
        }
        return best;
    }

    static double[] gaussian(SplittableRandom r, int n, double scale) {
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller with StrictMath: the same numbers on every JVM.
            double u = 1 - r.nextDouble(), v = r.nextDouble();
            w[i] = scale * StrictMath.sqrt(-2 * StrictMath.log(u)) * StrictMath.cos(2 * Math.PI * v);
        }
        return w;
    }
}
