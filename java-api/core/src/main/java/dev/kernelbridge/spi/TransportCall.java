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
 */
public record TransportCall(long sequence, Kind kind, DType dtype, ReduceOp op, long count, int root,
                            MemorySegment send, MemorySegment recv, boolean inPlace) {
    public enum Kind { ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER, BROADCAST }
}
