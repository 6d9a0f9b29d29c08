package dev.kernelbridge.spi;

import dev.kernelbridge.NarrowFloat;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * BF16 conversions on the Vector API. C2 does not vectorise the scalar forms (an unsigned shift
 * narrowed to short, a select for NaN), and they ran 4-10x slower than the F16 ones it does.
 * Loaded only when {@link Convert} found the Vector API readable; bitwise the same as
 * {@link NarrowFloat}.
 */
final class VectorBf16 {
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = VectorSpecies.of(short.class, VectorShape.forBitSize(INTS.vectorBitSize() / 2));
    private static final int L = INTS.length();

    private VectorBf16() { }

    static void widen(short[] raw, float[] dst, int at, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            IntVector v = (IntVector) ShortVector.fromArray(SHORTS, raw, i).convertShape(VectorOperators.S2I, INTS, 0);
            v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, at + i);
        }
        for (; i < n; i++) {
            dst[at + i] = NarrowFloat.fromBf16(raw[i]);
        }
    }

    /** acc[0 … n) += the BF16 values raw[0 … n): widening and adding in one pass. */
    static void accumulate(short[] raw, float[] acc, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            IntVector v = (IntVector) ShortVector.fromArray(SHORTS, raw, i).convertShape(VectorOperators.S2I, INTS, 0);
            FloatVector x = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector.fromArray(FLOATS, acc, i).add(x).intoArray(acc, i);
        }
        for (; i < n; i++) {
            acc[i] += NarrowFloat.fromBf16(raw[i]);
        }
    }

    static void narrow(float[] src, int at, short[] raw, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            IntVector bits = FloatVector.fromArray(FLOATS, src, at + i).reinterpretAsInts();
            IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(0x7FFF).add(high.and(1)).lanewise(VectorOperators.LSHR, 16);
            VectorMask<Integer> nan = bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector result = rounded.blend(high.or(0x0040), nan);
            ((ShortVector) result.convertShape(VectorOperators.I2S, SHORTS, 0)).intoArray(raw, i);
        }
        for (; i < n; i++) {
            raw[i] = NarrowFloat.toBf16(src[at + i]);
        }
    }
}
