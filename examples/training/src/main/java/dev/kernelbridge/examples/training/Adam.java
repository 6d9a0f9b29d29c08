package dev.kernelbridge.examples.training;

/**
 * Adam (Kingma and Ba) over one flat parameter vector; the parameters land back on the weight grid
 * after each step. Every rank applies the same update to its own replica from the same all-reduced
 * gradient, so the replicas stay bitwise equal without being broadcast. Not thread-safe: one per rank.
 */
final class Adam {
    static final double BETA1 = 0.9, BETA2 = 0.999, EPSILON = 1e-8;

    final double learningRate;
    final double[] m, v;
    long t;

    Adam(int size, double learningRate) {
        this.learningRate = learningRate;
        this.m = new double[size];
        this.v = new double[size];
    }

    void step(double[] parameters, double[] gradient) {
        t++;
        double c1 = 1 - StrictMath.pow(BETA1, t), c2 = 1 - StrictMath.pow(BETA2, t);
        for (int i = 0; i < parameters.length; i++) {
            double g = gradient[i];
            m[i] = BETA1 * m[i] + (1 - BETA1) * g;
            v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
            double update = learningRate * (m[i] / c1) / (Math.sqrt(v[i] / c2) + EPSILON);
            parameters[i] = FixedPoint.WEIGHT.round(parameters[i] - update);
        }
    }
}
