package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.NarrowFloat;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Bulk conversion between memory of any {@link DType} and the arrays computation happens in
 * ({@code float[]} for F32, BF16, F16 and I8; {@code int[]} for I32). Written once here and used by
 * packing, reductions and copies, so every path rounds the same way. Indices count elements. Part
 * of the SPI because a backend that computes in host memory packs with the same conversions (the
 * built-in CPU backend does), so its narrow types round exactly as everyone else's.
 */
public final class Convert {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort BITS16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    /** Whether the Vector API is readable here (it is optional: {@code requires static}). */
    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector")
            .map(m -> Convert.class.getModule().canRead(m)).orElse(false);

    private Convert() { }

    /** dst[at … at+n) := elements [index, index+n) of {@code src}, widened exactly to float. */
    public static void toFloats(DType type, MemorySegment src, long index, float[] dst, int at, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, F32, index * 4, dst, at, n);
            // One bulk copy into an array, then the array form (loops C2 vectorises, or the Vector API).
            case BF16, F16 -> {
                short[] raw = shorts(n);
                MemorySegment.copy(src, BITS16, index * 2, raw, 0, n);
                toFloats(type, raw, dst, at, n);
            }
            case I8 -> {
                byte[] raw = bytes(n);
                MemorySegment.copy(src, ValueLayout.JAVA_BYTE, index, raw, 0, n);
                for (int i = 0; i < n; i++) {
                    dst[at + i] = raw[i];
                }
            }
            default -> throw new IllegalArgumentException("no float view of " + type.label());
        }
    }

    /** dst[at … at+n) := the BF16 or F16 values whose bits are raw[0 … n), without staging. */
    public static void toFloats(DType type, short[] raw, float[] dst, int at, int n) {
        if (type == DType.BF16 && VECTOR) {
            VectorBf16.widen(raw, dst, at, n);
        } else if (type == DType.BF16) {
            for (int i = 0; i < n; i++) {
                dst[at + i] = Float.intBitsToFloat(raw[i] << 16);
            }
        } else if (type == DType.F16) {
            for (int i = 0; i < n; i++) {
                dst[at + i] = Float.float16ToFloat(raw[i]);
            }
        } else {
            throw new IllegalArgumentException("no 16-bit float view of " + type.label());
        }
    }

    /** acc[0 … n) += the BF16 or F16 values whose bits are raw[0 … n), in one pass (the sum of a reduction). */
    public static void addFloats(DType type, short[] raw, float[] acc, int n) {
        if (type == DType.BF16 && VECTOR) {
            VectorBf16.accumulate(raw, acc, n);
        } else if (type == DType.BF16) {
            for (int i = 0; i < n; i++) {
                acc[i] += Float.intBitsToFloat(raw[i] << 16);
            }
        } else if (type == DType.F16) {
            for (int i = 0; i < n; i++) {
                acc[i] += Float.float16ToFloat(raw[i]);
            }
        } else {
            throw new IllegalArgumentException("no 16-bit float view of " + type.label());
        }
    }

    /** raw[0 … n) := src[at … at+n) rounded once to BF16 or F16, without staging. */
    public static void fromFloats(DType type, float[] src, int at, short[] raw, int n) {
        if (type == DType.BF16 && VECTOR) {
            VectorBf16.narrow(src, at, raw, n);
        } else if (type == DType.BF16) {
            for (int i = 0; i < n; i++) {
                raw[i] = NarrowFloat.toBf16(src[at + i]);
            }
        } else if (type == DType.F16) {
            for (int i = 0; i < n; i++) {
                raw[i] = Float.floatToFloat16(src[at + i]);
            }
        } else {
            throw new IllegalArgumentException("cannot round floats to " + type.label() + " bits");
        }
    }

    /** Per-thread staging for the narrow reads above (the packing calls them thousands of times per GEMM). */
    private static final ThreadLocal<byte[]> BYTES = ThreadLocal.withInitial(() -> new byte[4096]);
    private static final ThreadLocal<short[]> SHORTS = ThreadLocal.withInitial(() -> new short[4096]);

    private static byte[] bytes(int n) {
        byte[] b = BYTES.get();
        if (b.length < n) {
            b = new byte[n];
            BYTES.set(b);
        }
        return b;
    }

    private static short[] shorts(int n) {
        short[] s = SHORTS.get();
        if (s.length < n) {
            s = new short[n];
            SHORTS.set(s);
        }
        return s;
    }

    /** Elements [index, index+n) of {@code dst} := src[at … at+n), rounded once to {@code type} (F32, BF16, F16). */
    public static void fromFloats(DType type, float[] src, int at, MemorySegment dst, long index, int n) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, at, dst, F32, index * 4, n);
            case BF16, F16 -> {
                short[] raw = shorts(n);
                fromFloats(type, src, at, raw, n);
                MemorySegment.copy(raw, 0, dst, BITS16, index * 2, n);
            }
            default -> throw new IllegalArgumentException("cannot round floats to " + type.label());
        }
    }

    /** dst[at … at+n) := elements [index, index+n) of {@code src}; F64 is the only type computed in double. */
    public static void toDoubles(DType type, MemorySegment src, long index, double[] dst, int at, int n) {
        if (type != DType.F64) {
            throw new IllegalArgumentException("no double view of " + type.label());
        }
        MemorySegment.copy(src, ValueLayout.JAVA_DOUBLE_UNALIGNED, index * 8, dst, at, n);
    }

    public static void fromDoubles(DType type, double[] src, int at, MemorySegment dst, long index, int n) {
        if (type != DType.F64) {
            throw new IllegalArgumentException("cannot store doubles as " + type.label());
        }
        MemorySegment.copy(src, at, dst, ValueLayout.JAVA_DOUBLE_UNALIGNED, index * 8, n);
    }

    public static void toInts(MemorySegment src, long index, int[] dst, int at, int n) {
        MemorySegment.copy(src, I32, index * 4, dst, at, n);
    }

    public static void fromInts(int[] src, int at, MemorySegment dst, long index, int n) {
        MemorySegment.copy(src, at, dst, I32, index * 4, n);
    }

    /** Element {@code index} of {@code s} as a double (exact for every type). */
    public static double get(DType type, MemorySegment s, long index) {
        return switch (type) {
            case F32 -> s.getAtIndex(F32, index);
            case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, index);
            case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(BITS16, index));
            case F16 -> NarrowFloat.fromF16(s.getAtIndex(BITS16, index));
            case I8 -> s.get(ValueLayout.JAVA_BYTE, index);
            case I32 -> s.getAtIndex(I32, index);
        };
    }

    /**
     * Stores {@code value} as element {@code index}: floats round once to the type (a double is
     * first rounded to float for the narrow types, exact for the values that come from F32
     * arithmetic); integers must already be exact and in range.
     */
    public static void set(DType type, MemorySegment s, long index, double value) {
        switch (type) {
            case F32 -> s.setAtIndex(F32, index, (float) value);
            case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, index, value);
            case BF16 -> s.setAtIndex(BITS16, index, NarrowFloat.toBf16((float) value));
            case F16 -> s.setAtIndex(BITS16, index, NarrowFloat.toF16((float) value));
            case I8 -> s.set(ValueLayout.JAVA_BYTE, index, (byte) value);
            case I32 -> s.setAtIndex(I32, index, (int) (long) value);
        }
    }
}
