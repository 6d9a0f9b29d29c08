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
 *
 * <p>All-to-all carries its own layout in {@code blocks} (null for every other kind); its
 * {@code count} is unused (0), since ranks legitimately send different amounts.
 */
public record CollectiveRequest(Kind kind, DType dtype, long count, ReduceOp op, int root,
                                BackendBuffer send, BackendBuffer recv, boolean inPlace, Blocks blocks) {

    public CollectiveRequest(Kind kind, DType dtype, long count, ReduceOp op, int root,
                             BackendBuffer send, BackendBuffer recv, boolean inPlace) {
        this(kind, dtype, count, op, root, send, recv, inPlace, null);
    }

    /** An all-to-all of one rank: checked per-peer counts and displacements, in elements. */
    public static CollectiveRequest allToAll(DType dtype, BackendBuffer send, BackendBuffer recv, Blocks blocks) {
        return new CollectiveRequest(Kind.ALL_TO_ALL, dtype, 0, ReduceOp.SUM, 0, send, recv, false, blocks);
    }

    /**
     * Where one rank's all-to-all blocks lie: block j of send (to rank j) is
     * {@code sendCounts[j]} elements at {@code sendDispls[j]}; block i of recv (from rank i) is
     * {@code recvCounts[i]} at {@code recvDispls[i]}. Arrays are the caller's checked copies.
     */
    public record Blocks(long[] sendCounts, long[] sendDispls, long[] recvCounts, long[] recvDispls) { }

    public enum Kind {
        ALL_REDUCE("allReduce"), REDUCE_SCATTER("reduceScatter"), ALL_GATHER("allGather"), BROADCAST("broadcast"),
        ALL_TO_ALL("allToAll");

        private final String label;

        Kind(String label) { this.label = label; }

        public String label() { return label; }
    }

    /** Whether {@code other} is the same call as this one, as {@link #fingerprint()} says, without building the words. */
    boolean agrees(CollectiveRequest other) {
        if (kind != other.kind || dtype != other.dtype) {
            return false;
        }
        if (kind == Kind.ALL_TO_ALL) {
            return true;
        }
        return count == other.count
                && (!(kind == Kind.ALL_REDUCE || kind == Kind.REDUCE_SCATTER) || op == other.op)
                && (kind != Kind.BROADCAST || root == other.root);
    }

    /**
     * What every rank must agree on for the same call, in words. For all-to-all that is the kind
     * and type only; the pairs of counts are checked separately ({@link #pairMismatch}).
     */
    String fingerprint() {
        if (kind == Kind.ALL_TO_ALL) {
            return kind.label() + "(" + dtype.label() + ")";
        }
        return kind.label() + "(" + dtype.label() + ", count " + count
                + (kind == Kind.ALL_REDUCE || kind == Kind.REDUCE_SCATTER ? ", " + op.name().toLowerCase(java.util.Locale.ROOT) : "")
                + (kind == Kind.BROADCAST ? ", root " + root : "") + ")";
    }

    /**
     * The first pair (i, j), in row order, where what rank i sends to rank j is not what j expects
     * from i, in words naming both ranks; null when every pair agrees. {@code sendCounts[i][j]} and
     * {@code recvCounts[j][i]} are global ranks' rows; every rank computes the same answer.
     */
    static String pairMismatch(long sequence, long[][] sendCounts, long[][] recvCounts) {
        for (int i = 0; i < sendCounts.length; i++) {
            for (int j = 0; j < sendCounts.length; j++) {
                if (sendCounts[i][j] != recvCounts[j][i]) {
                    return "allToAll mismatch at call #" + sequence + ": rank " + i + " sends " + sendCounts[i][j]
                            + " elements to rank " + j + ", but rank " + j + " expects " + recvCounts[j][i] + " from rank " + i;
                }
            }
        }
        return null;
    }
}
