package dev.kernelbridge;

/** Ranks called the same collective step with different operations, counts, types or roots. */
public class CollectiveMismatchException extends CollectiveException {
    private static final long serialVersionUID = 1L;

    public CollectiveMismatchException(long sequence, String message) {
        super(sequence, message);
    }
}
