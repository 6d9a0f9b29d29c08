package dev.kernelbridge.internal.collective;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;

/**
 * One rank's checked part of a collective. {@code count} is per-rank: all-reduce and broadcast move
 * {@code count} elements; reduce-scatter receives {@code count} (sends size·count); all-gather sends
 * {@code count} (receives size·count). {@code inPlace} follows NCCL: for reduce-scatter the result
 * lands at block {@code rank} of the send buffer, for all-gather the rank's input already sits at
 * block {@code rank} of the receive buffer.
 */
public record CollectiveRequest(Kind kind, DType dtype, long count, ReduceOp op, int root,
                                BackendBuffer send, BackendBuffer recv, boolean inPlace) {

    public enum Kind {
        ALL_REDUCE("allReduce"), REDUCE_SCATTER("reduceScatter"), ALL_GATHER("allGather"), BROADCAST("broadcast");

        private final String label;

        Kind(String label) { this.label = label; }

        public String label() { return label; }
    }

    /** What every rank must agree on for the same call, in words. */
    String fingerprint() {
        return kind.label() + "(" + dtype.label() + ", count " + count
                + (kind == Kind.ALL_REDUCE || kind == Kind.REDUCE_SCATTER ? ", " + op.name().toLowerCase(java.util.Locale.ROOT) : "")
                + (kind == Kind.BROADCAST ? ", root " + root : "") + ")";
    }
}
