package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;

/**
 * Throughput is filed per shape class: the dtype, the cube root of m·n·k rounded to a power of two
 * and the batch count's power of two, packed in a long so the per-call bookkeeping allocates nothing.
 */
final class ShapeClass {
    private ShapeClass() { }

    static long of(DType dtype, long m, long n, long k, long batch) {
        double size = Math.cbrt((double) m * n * Math.max(k, 1));
        int log = 63 - Long.numberOfLeadingZeros(Math.max(1, (long) (size * Math.sqrt(2))));
        int batchLog = 63 - Long.numberOfLeadingZeros(Math.max(1, batch));
        return ((long) dtype.ordinal() << 16) | ((long) log << 8) | batchLog;
    }

    /** "f32 n~1024" or "f64 n~64 x8" (batched). */
    static String describe(long key) {
        DType dtype = DType.values()[(int) (key >>> 16)];
        long size = 1L << ((key >>> 8) & 0xff);
        long batch = 1L << (key & 0xff);
        return dtype.label() + " n~" + size + (batch > 1 ? " x" + batch : "");
    }
}
