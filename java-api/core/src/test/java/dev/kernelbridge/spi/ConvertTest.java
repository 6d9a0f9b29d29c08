package dev.kernelbridge.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kernelbridge.DType;
import dev.kernelbridge.NarrowFloat;
import java.lang.foreign.MemorySegment;
import java.math.BigDecimal;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The narrow conversions: every bulk path gives NarrowFloat's bits, and NarrowFloat rounds as IEEE says. */
class ConvertTest {
    @Test
    void everyBf16AndF16BitPatternWidensAndNarrowsBackToItself() {
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            short[] all = new short[65536];
            for (int b = 0; b < all.length; b++) {
                all[b] = (short) b;
            }
            float[] wide = new float[all.length];
            Convert.toFloats(t, MemorySegment.ofArray(all), 0, wide, 0, all.length);
            short[] back = new short[all.length];
            Convert.fromFloats(t, wide, 0, MemorySegment.ofArray(back), 0, all.length);
            for (int b = 0; b < all.length; b++) {
                float x = wide[b];
                assertEquals(t == DType.BF16 ? NarrowFloat.fromBf16(all[b]) : NarrowFloat.fromF16(all[b]), x, 0f);
                if (Float.isNaN(x)) {
                    assertEquals(true, Float.isNaN(t == DType.BF16 ? NarrowFloat.fromBf16(back[b]) : NarrowFloat.fromF16(back[b])), t + " NaN stays NaN");
                } else {
                    assertEquals(all[b], back[b], t + " bits 0x" + Integer.toHexString(b));
                }
            }
        }
    }

    @Test
    void bulkNarrowingIsBitwiseTheScalarOneForAnyFloat() {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] x = new float[100_003];
        for (int i = 0; i < x.length; i++) {
            x[i] = Float.intBitsToFloat(rnd.nextInt()); // every class: NaN payloads, Inf, subnormals, ties
        }
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            short[] bulk = new short[x.length];
            Convert.fromFloats(t, x, 0, MemorySegment.ofArray(bulk), 0, x.length);
            for (int i = 0; i < x.length; i++) {
                short scalar = t == DType.BF16 ? NarrowFloat.toBf16(x[i]) : NarrowFloat.toF16(x[i]);
                assertEquals(scalar, bulk[i], t + " of bits 0x" + Integer.toHexString(Float.floatToRawIntBits(x[i])));
            }
        }
    }

    @Test
    void bf16RoundsToTheNearestValueTiesToEven() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (int n = 0; n < 200_000; n++) {
            float x = Float.intBitsToFloat(rnd.nextInt() & 0x7EFFFFFF); // finite, positive, below the top binade (its upper neighbour would be Inf)
            if (n % 2 == 0) {
                x = Float.intBitsToFloat((Float.floatToRawIntBits(x) & 0xFFFF0000) | 0x8000); // an exact tie
            }
            float lo = Float.intBitsToFloat(Float.floatToRawIntBits(x) & 0xFFFF0000);
            float hi = Float.intBitsToFloat((Float.floatToRawIntBits(x) & 0xFFFF0000) + 0x10000);
            int cmp = new BigDecimal(x).subtract(new BigDecimal(lo)).compareTo(new BigDecimal(hi).subtract(new BigDecimal(x)));
            boolean loEven = (Float.floatToRawIntBits(lo) & 0x10000) == 0;
            float want = cmp < 0 || (cmp == 0 && loEven) ? lo : hi;
            assertEquals(want, NarrowFloat.fromBf16(NarrowFloat.toBf16(x)), 0f, "bf16 of " + x);
        }
    }
}
