package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import java.lang.foreign.MemorySegment;

/**
 * One collective of a {@link Transport}, on host memory. {@code count} follows the communicator:
 * all-reduce and broadcast move {@code count} elements; reduce-scatter receives {@code count} per
 * rank (send holds size·count); all-gather sends {@code count} (recv holds size·count). In place
 * means {@code send == recv} (for reduce-scatter the result lands at block {@code rank}, for
 * all-gather the input already sits there). Avg is a sum divided by {@code size()} on every rank.
 *
 * <p>All-to-all-v ({@link Kind#ALL_TO_ALL_V}, never in place, {@code count} 0) sends
 * {@code sendCounts[q]} elements of send at {@code sendDispls[q]} to transport rank q and receives
 * {@code recvCounts[p]} from rank p into recv at {@code recvDispls[p]}; counts and displacements are
 * 64-bit element counts, one per transport rank. The transport must check, before any data moves,
 * that what p sends to q is what q expects from p. The arrays are null for every other kind.
 */
public record TransportCall(long sequence, Kind kind, DType dtype, ReduceOp op, long count, int root,
                            MemorySegment send, MemorySegment recv, boolean inPlace,
                            long[] sendCounts, long[] sendDispls, long[] recvCounts, long[] recvDispls) {
    public enum Kind { ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER, BROADCAST, ALL_TO_ALL_V }

    public TransportCall(long sequence, Kind kind, DType dtype, ReduceOp op, long count, int root,
                         MemorySegment send, MemorySegment recv, boolean inPlace) {
        this(sequence, kind, dtype, op, count, root, send, recv, inPlace, null, null, null, null);
    }

    /** An all-to-all-v of this process (see the class comment). */
    public static TransportCall allToAllV(long sequence, DType dtype, MemorySegment send, long[] sendCounts, long[] sendDispls,
                                          MemorySegment recv, long[] recvCounts, long[] recvDispls) {
        return new TransportCall(sequence, Kind.ALL_TO_ALL_V, dtype, ReduceOp.SUM, 0, 0, send, recv, false,
                sendCounts, sendDispls, recvCounts, recvDispls);
    }
}
