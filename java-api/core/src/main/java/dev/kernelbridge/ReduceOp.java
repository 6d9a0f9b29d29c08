package dev.kernelbridge;

/**
 * Element-wise reductions of the collectives. Every rank's contribution is combined in rank
 * order 0, 1, …, N−1, so a fixed group gives bitwise identical results on every rank and run.
 * MIN and MAX follow {@link Math#min(double, double)}: NaN wins, and −0.0 is below +0.0.
 */
public enum ReduceOp {
    SUM, PROD, MIN, MAX,
    /** The sum divided by the number of ranks. */
    AVG;

    public static ReduceOp parse(String text, String argument) {
        if (text != null) {
            for (ReduceOp op : values()) {
                if (op.name().equalsIgnoreCase(text.trim())) {
                    return op;
                }
            }
        }
        throw new IllegalArgumentException(argument + " must be one of sum, prod, min, max, avg, got " + text);
    }
}
