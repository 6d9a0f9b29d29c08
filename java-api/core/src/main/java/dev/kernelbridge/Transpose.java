package dev.kernelbridge;

/** Whether a GEMM operand is used as stored or transposed. Real types only: 'C' means 'T'. */
public enum Transpose {
    NO_TRANS,
    TRANS;

    /** Parses the netlib characters N, T, C (either case); the message names {@code argument}. */
    public static Transpose parse(String text, String argument) {
        if (text != null && text.length() == 1) {
            switch (Character.toUpperCase(text.charAt(0))) {
                case 'N' -> { return NO_TRANS; }
                case 'T', 'C' -> { return TRANS; }
                default -> { }
            }
        }
        throw new IllegalArgumentException(argument + " must be one of N, T, C, got " + (text == null ? "null" : "'" + text + "'"));
    }
}
