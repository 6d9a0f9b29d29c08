package dev.kernelbridge.internal.collective;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The in-process all-reduce and reduce-scatter of F32 and F64 sums (and averages) over host memory
 * in one pass: each vector of the share is read from every input, added in rank order, divided
 * once for an average, and stored into every output — where the general fold copies each input
 * into an array and the result back out. The same additions in the same order, so the same bits.
 * Only native segments come here: the JIT keeps its vector intrinsics only while one kind of
 * segment reaches a call site. Loaded only when the Vector API is readable (see {@link InProcessGroup}).
 */
final class VectorSum {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private VectorSum() { }

    /**
     * outs[j][to + i] := ins[0][from + i] + … + ins[N−1][from + i] for i < n, divided by N when
     * {@code average} (also for N = 1, as the general fold does); byte offsets from and to.
     */
    static void f32(MemorySegment[] ins, long from, MemorySegment[] outs, long to, long n, boolean average) {
        float divisor = ins.length;
        long i = 0;
        long bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            long at = from + i * 4;
            FloatVector acc = FloatVector.fromMemorySegment(F, ins[0], at, ORDER);
            for (int r = 1; r < ins.length; r++) {
                acc = acc.add(FloatVector.fromMemorySegment(F, ins[r], at, ORDER));
            }
            if (average) {
                acc = acc.div(divisor);
            }
            long out = to + i * 4;
            for (MemorySegment o : outs) {
                acc.intoMemorySegment(o, out, ORDER);
            }
        }
        for (; i < n; i++) {
            long at = from + i * 4;
            float acc = ins[0].get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, at);
            for (int r = 1; r < ins.length; r++) {
                acc += ins[r].get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, at);
            }
            if (average) {
                acc /= divisor;
            }
            for (MemorySegment o : outs) {
                o.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, to + i * 4, acc);
            }
        }
    }

    /** As {@link #f32} for doubles. */
    static void f64(MemorySegment[] ins, long from, MemorySegment[] outs, long to, long n, boolean average) {
        double divisor = ins.length;
        long i = 0;
        long bound = D.loopBound(n);
        for (; i < bound; i += D.length()) {
            long at = from + i * 8;
            DoubleVector acc = DoubleVector.fromMemorySegment(D, ins[0], at, ORDER);
            for (int r = 1; r < ins.length; r++) {
                acc = acc.add(DoubleVector.fromMemorySegment(D, ins[r], at, ORDER));
            }
            if (average) {
                acc = acc.div(divisor);
            }
            long out = to + i * 8;
            for (MemorySegment o : outs) {
                acc.intoMemorySegment(o, out, ORDER);
            }
        }
        for (; i < n; i++) {
            long at = from + i * 8;
            double acc = ins[0].get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, at);
            for (int r = 1; r < ins.length; r++) {
                acc += ins[r].get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, at);
            }
            if (average) {
                acc /= divisor;
            }
            for (MemorySegment o : outs) {
                o.set(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, to + i * 8, acc);
            }
        }
    }
}
