package dev.kernelbridge;

/**
 * A collective failed as a group. The communicator is aborted afterwards: every later call on
 * any of its ranks fails at once with this same cause, so no rank waits for a peer that left.
 */
public class CollectiveException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long sequence;

    public CollectiveException(long sequence, String message) {
        super(message);
        this.sequence = sequence;
    }

    /** The per-communicator number of the call that failed, counted from 0 on every rank. */
    public long sequence() { return sequence; }
}
