package dev.kernelbridge;

import java.lang.foreign.ValueLayout;

/**
 * Element types a device buffer can hold. Floating-point: F32, F64, and the storage types BF16
 * (bfloat16: F32's exponent, 8 significant bits) and F16 (IEEE binary16), which GEMMs and reductions
 * widen to F32 and round back once. Integer: I8 (signed GEMM inputs) and I32 (their exact
 * accumulators and results, and integer reductions). A device lists what it declares in
 * {@link Device#dtypes()}; a backend that does not declare a type is never given work in it.
 */
public enum DType {
    F32(4, ValueLayout.JAVA_FLOAT_UNALIGNED, 0x1p-24, true),
    F64(8, ValueLayout.JAVA_DOUBLE_UNALIGNED, 0x1p-53, true),
    BF16(2, ValueLayout.JAVA_SHORT_UNALIGNED, 0x1p-8, true),
    F16(2, ValueLayout.JAVA_SHORT_UNALIGNED, 0x1p-11, true),
    I8(1, ValueLayout.JAVA_BYTE, 0, false),
    I32(4, ValueLayout.JAVA_INT_UNALIGNED, 0, false);

    private final int byteSize;
    private final ValueLayout layout;
    private final double unitRoundoff;
    private final boolean floatingPoint;

    DType(int byteSize, ValueLayout layout, double unitRoundoff, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.layout = layout;
        this.unitRoundoff = unitRoundoff;
        this.floatingPoint = floatingPoint;
    }

    public int byteSize() { return byteSize; }

    /** The element layout (raw bits for BF16 and F16), unaligned so that heap segments of any array type can be read. */
    public ValueLayout layout() { return layout; }

    /** u = 2^-p: half the distance from 1 to the next representable number; 0 for the exact integer types. */
    public double unitRoundoff() { return unitRoundoff; }

    public boolean isFloatingPoint() { return floatingPoint; }

    /** BF16 and F16: stored narrow, computed in F32. */
    public boolean isNarrowFloat() { return this == BF16 || this == F16; }

    /**
     * The type GEMM and reductions compute in: F32 for F32, BF16 and F16; F64 for F64; I32 for the
     * integer types.
     */
    public DType computeType() {
        return switch (this) {
            case F32, BF16, F16 -> F32;
            case F64 -> F64;
            case I8, I32 -> I32;
        };
    }

    /** Lower-case name used on the command line and in JSON ("f32", "bf16", "i8"). */
    public String label() { return name().toLowerCase(java.util.Locale.ROOT); }

    /** Parses "f32"/"float"/"bf16"/"half"/"int8" style names; the message names {@code argument} on failure. */
    public static DType parse(String text, String argument) {
        if (text != null) {
            switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "f32", "float", "float32", "s" -> { return F32; }
                case "f64", "double", "float64", "d" -> { return F64; }
                case "bf16", "bfloat16" -> { return BF16; }
                case "f16", "half", "float16", "fp16" -> { return F16; }
                case "i8", "int8", "s8" -> { return I8; }
                case "i32", "int32", "int", "s32" -> { return I32; }
                default -> { }
            }
        }
        throw new IllegalArgumentException(argument + " must be one of f32, f64, bf16, f16, i8, i32, got " + text);
    }
}
