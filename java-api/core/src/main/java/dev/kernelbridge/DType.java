package dev.kernelbridge;

import java.lang.foreign.ValueLayout;

/** Element types a device buffer can hold. F32 and F64 first; narrower types join later. */
public enum DType {
    F32(4, ValueLayout.JAVA_FLOAT_UNALIGNED, 0x1p-24),
    F64(8, ValueLayout.JAVA_DOUBLE_UNALIGNED, 0x1p-53);

    private final int byteSize;
    private final ValueLayout layout;
    private final double unitRoundoff;

    DType(int byteSize, ValueLayout layout, double unitRoundoff) {
        this.byteSize = byteSize;
        this.layout = layout;
        this.unitRoundoff = unitRoundoff;
    }

    public int byteSize() { return byteSize; }

    /** The element layout, unaligned so that heap segments of any array type can be read. */
    public ValueLayout layout() { return layout; }

    /** u = 2^-p: half the distance from 1 to the next representable number. */
    public double unitRoundoff() { return unitRoundoff; }

    /** Lower-case name used on the command line and in JSON ("f32", "f64"). */
    public String label() { return name().toLowerCase(java.util.Locale.ROOT); }

    /** Parses "f32"/"F32"/"float" style names; the message names {@code argument} on failure. */
    public static DType parse(String text, String argument) {
        if (text != null) {
            switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "f32", "float", "float32", "s" -> { return F32; }
                case "f64", "double", "float64", "d" -> { return F64; }
                default -> { }
            }
        }
        throw new IllegalArgumentException(argument + " must be f32 or f64, got " + text);
    }
}
