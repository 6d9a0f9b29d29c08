package dev.kernelbridge.examples.training;

/**
 * Why the trainer's loss curve is the same bits on any device: every GEMM operand lives on a
 * fixed-point grid (a multiple of 2^-f, bounded in magnitude), so every product and every partial
 * sum of a GEMM is an exact F64 number, whatever order a device sums in, with or without FMA. A CPU,
 * a PoCL device, a GPU or the device a failover moved the work to then all give the same result.
 * The host rounds each GEMM's output back onto its grid (round half to even, then clamp), which is
 * the only rounding the model sees: a fixed-point network, as in integer and fixed-point training.
 *
 * <p>The bound: a dot product of k terms a·b with a on grid 2^-fa below 2^ea and b on grid 2^-fb
 * below 2^eb is exact when (ea + fa) + (eb + fb) + ceil(log2 k) ≤ 53. {@link #requireExact} checks it
 * for every GEMM the model issues, before training starts.
 */
record FixedPoint(String name, int fractionBits, int magnitudeBits) {
    /** Inputs and activations: grid 2^-16, |x| < 16. */
    static final FixedPoint ACTIVATION = new FixedPoint("activation", 16, 4);
    /** Weights: grid 2^-16, |w| < 4. */
    static final FixedPoint WEIGHT = new FixedPoint("weight", 16, 2);
    /** Gradients of activations: grid 2^-28, |g| < 1/16 (the loss is a mean over at least 16 samples). */
    static final FixedPoint GRADIENT = new FixedPoint("gradient", 28, -4);

    /** Significant bits a value of this format can have. */
    int bits() {
        return fractionBits + magnitudeBits;
    }

    /** The nearest grid point (ties to even), clamped into the format's range. */
    double round(double v) {
        double scale = Math.scalb(1.0, fractionBits);
        double limit = Math.scalb(1.0, magnitudeBits) - 1.0 / scale;
        double q = Math.rint(v * scale) / scale;
        return q > limit ? limit : q < -limit ? -limit : q;
    }

    void roundAll(double[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = round(values[i]);
        }
    }

    /** Throws unless a k-term dot product of {@code a} and {@code b} values is exact in F64. */
    static void requireExact(String gemm, FixedPoint a, FixedPoint b, int k) {
        int bits = a.bits() + b.bits() + (32 - Integer.numberOfLeadingZeros(Math.max(1, k - 1)));
        if (bits > 53) {
            throw new IllegalArgumentException(gemm + ": a " + k + "-term sum of " + a.name + " x " + b.name + " products needs "
                    + bits + " bits, more than F64's 53: the result would depend on the device's summation order (use a smaller "
                    + "batch or hidden size)");
        }
    }
}
