package dev.kernelbridge;

/**
 * Conversions between {@code float} and the raw bits of the narrow storage types. Narrowing rounds
 * to nearest, ties to even; NaN stays NaN (quiet, sign kept); values past the largest finite number
 * become ±Inf; subnormals are kept, never flushed. Widening is exact.
 */
public final class NarrowFloat {
    private NarrowFloat() { }

    /** bfloat16 bits of {@code value}. */
    public static short toBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            // Keep sign and the top payload bits; set the quiet bit so truncation cannot make an Inf.
            return (short) ((bits >>> 16) | 0x0040);
        }
        int tieToEven = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + tieToEven) >>> 16);
    }

    public static float fromBf16(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** IEEE binary16 bits of {@code value}. */
    public static short toF16(float value) {
        return Float.floatToFloat16(value);
    }

    public static float fromF16(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Rounds {@code value} to the nearest value of {@code dtype} (F32, BF16 or F16) and widens it back. */
    public static float round(DType dtype, float value) {
        return switch (dtype) {
            case F32 -> value;
            case BF16 -> fromBf16(toBf16(value));
            case F16 -> fromF16(toF16(value));
            default -> throw new IllegalArgumentException("dtype must be f32, bf16 or f16, got " + dtype.label());
        };
    }
}
