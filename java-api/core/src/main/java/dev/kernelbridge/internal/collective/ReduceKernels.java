package dev.kernelbridge.internal.collective;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.Convert;
import java.lang.foreign.MemorySegment;

/**
 * Element-wise combining loops, plain enough for C2 to vectorise (add, mul, min, max on arrays).
 * AVG combines as SUM; the division happens once at the end.
 */
final class ReduceKernels {
    private ReduceKernels() { }

    /**
     * One step of a fold in the type's compute type: F32 and F64 combine as they are, BF16 and F16
     * widen to F32 and round once when the step is finished, I32 wraps. Reads land in {@link #raw};
     * the first read of a step starts the accumulator, each later one is combined into it.
     */
    static final class Lanes {
        private final DType dtype;
        private final float[] accF, nextF;
        private final double[] accD, nextD;
        private final int[] accI, nextI;
        private final short[] bits;
        private final int step;

        Lanes(DType dtype, int step) {
            this.dtype = dtype;
            this.step = step;
            boolean f = dtype.computeType() == DType.F32, d = dtype == DType.F64, i = dtype == DType.I32;
            if (!f && !d && !i) {
                throw new IllegalArgumentException(dtype.label() + " does not reduce");
            }
            accF = f ? new float[step] : null;
            nextF = f ? new float[step] : null;
            accD = d ? new double[step] : null;
            nextD = d ? new double[step] : null;
            accI = i ? new int[step] : null;
            nextI = i ? new int[step] : null;
            bits = dtype.isNarrowFloat() ? new short[step] : null;
        }

        DType dtype() { return dtype; }

        int step() { return step; }

        boolean fits(DType type, int len) { return dtype == type && len <= step; }

        /** Where the next input of {@code len} elements is copied to. */
        MemorySegment raw(int len) {
            long bytes = (long) len * dtype.byteSize();
            return switch (dtype) {
                case F32 -> MemorySegment.ofArray(nextF).asSlice(0, bytes);
                case F64 -> MemorySegment.ofArray(nextD).asSlice(0, bytes);
                case I32 -> MemorySegment.ofArray(nextI).asSlice(0, bytes);
                default -> MemorySegment.ofArray(bits).asSlice(0, bytes);
            };
        }

        /** The first input (just read) becomes the accumulator. */
        void start(int len) {
            switch (dtype.computeType()) {
                case F64 -> System.arraycopy(nextD, 0, accD, 0, len);
                case I32 -> System.arraycopy(nextI, 0, accI, 0, len);
                default -> widen(accF, len);
            }
        }

        /** Combines the input just read into the accumulator. */
        void combine(ReduceOp op, int len) {
            switch (dtype.computeType()) {
                case F64 -> ReduceKernels.combine(op, accD, nextD, len);
                case I32 -> ReduceKernels.combine(op, accI, nextI, len);
                default -> {
                    if (dtype.isNarrowFloat() && (op == ReduceOp.SUM || op == ReduceOp.AVG)) {
                        Convert.addFloats(dtype, bits, accF, len); // the same float additions, in one pass
                    } else {
                        widen(nextF, len);
                        ReduceKernels.combine(op, accF, nextF, len);
                    }
                }
            }
        }

        /** Divides for AVG and rounds to the type, once; returns the step's result as the type's bytes. */
        MemorySegment finish(ReduceOp op, int ranks, int len) {
            long bytes = (long) len * dtype.byteSize();
            switch (dtype.computeType()) {
                case F64 -> {
                    if (op == ReduceOp.AVG) {
                        divide(accD, ranks, len);
                    }
                    return MemorySegment.ofArray(accD).asSlice(0, bytes);
                }
                case I32 -> {
                    return MemorySegment.ofArray(accI).asSlice(0, bytes);
                }
                default -> {
                    if (op == ReduceOp.AVG) {
                        divide(accF, ranks, len);
                    }
                    if (dtype == DType.F32) {
                        return MemorySegment.ofArray(accF).asSlice(0, bytes);
                    }
                    Convert.fromFloats(dtype, accF, 0, bits, len);
                    return MemorySegment.ofArray(bits).asSlice(0, bytes);
                }
            }
        }

        private void widen(float[] into, int len) {
            if (dtype == DType.F32) {
                if (into != nextF) {
                    System.arraycopy(nextF, 0, into, 0, len);
                }
                return;
            }
            Convert.toFloats(dtype, bits, into, 0, len);
        }
    }

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

    /** Integer ops wrap modulo 2^32, so every order of combination gives the same bits. */
    static void combine(ReduceOp op, int[] acc, int[] x, int n) {
        switch (op) {
            case SUM -> { for (int i = 0; i < n; i++) { acc[i] += x[i]; } }
            case PROD -> { for (int i = 0; i < n; i++) { acc[i] *= x[i]; } }
            case MIN -> { for (int i = 0; i < n; i++) { acc[i] = Math.min(acc[i], x[i]); } }
            case MAX -> { for (int i = 0; i < n; i++) { acc[i] = Math.max(acc[i], x[i]); } }
            case AVG -> throw new IllegalArgumentException("op avg is not defined for i32");
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
