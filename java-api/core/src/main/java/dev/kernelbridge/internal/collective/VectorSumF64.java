// GENERATED from src/template/dev/kernelbridge/internal/collective/VectorSum.java.template by
// ci/generate-sources; edit the template, not this file (GeneratedSourcesTest checks they agree).
package dev.kernelbridge.internal.collective;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The in-process all-reduce and reduce-scatter of F64 sums (and averages) over host memory in
 * one pass: each vector of the share is read from every input, added in rank order, divided once
 * for an average, and stored into every output — where the general fold copies each input into an
 * array and the result back out. The same additions in the same order, so the same bits. Only
 * native segments come here: the JIT keeps its vector intrinsics only while one kind of segment
 * reaches a call site. Loaded only when the Vector API is readable (see {@link InProcessGroup}).
 */
final class VectorSumF64 {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private VectorSumF64() { }

    /**
     * outs[j][to + i] := ins[0][from + i] + … + ins[N−1][from + i] for i < n, divided by N when
     * {@code average} (also for N = 1, as the general fold does); byte offsets from and to.
     */
    static void sum(MemorySegment[] ins, long from, MemorySegment[] outs, long to, long n, boolean average) {
        long bound = S.loopBound(n);
        for (long i = 0; i < bound; i += S.length()) {
            step(ins, from + i * Double.BYTES, outs, to + i * Double.BYTES, average, null);
        }
        if (bound < n) { // the tail, in one masked step
            step(ins, from + bound * Double.BYTES, outs, to + bound * Double.BYTES, average, S.indexInRange(bound, n));
        }
    }

    private static void step(MemorySegment[] ins, long at, MemorySegment[] outs, long out, boolean average, VectorMask<Double> tail) {
        DoubleVector acc = load(ins[0], at, tail);
        for (int r = 1; r < ins.length; r++) {
            acc = acc.add(load(ins[r], at, tail));
        }
        if (average) {
            acc = acc.div((double) ins.length);
        }
        for (MemorySegment o : outs) {
            if (tail == null) {
                acc.intoMemorySegment(o, out, ORDER);
            } else {
                acc.intoMemorySegment(o, out, ORDER, tail);
            }
        }
    }

    private static DoubleVector load(MemorySegment s, long at, VectorMask<Double> tail) {
        return tail == null ? DoubleVector.fromMemorySegment(S, s, at, ORDER) : DoubleVector.fromMemorySegment(S, s, at, ORDER, tail);
    }
}
