package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.List;

/**
 * A vendor's collective engine over several devices of one backend (NCCL on CUDA GPUs), offered by
 * {@link Backend#collectives}. It is used only where the user allows it
 * ({@code kernelbridge.collective.vendor=allow}): vendor engines choose their own reduction order,
 * so results are no longer bitwise the same across message sizes and devices, as KernelBridge's own
 * rank-order reductions are. The group's checks (arguments, agreement of every rank) run first.
 */
public interface DeviceCollectives extends AutoCloseable {
    /** True when the engine can all-reduce {@code dtype} with {@code op}; otherwise the group reduces itself. */
    boolean supports(ReduceOp op, DType dtype);

    /**
     * All-reduce of rank r's {@code send.get(r)} into {@code recv.get(r)} ({@code count} elements from
     * byte 0; a send may be its recv), returning when every output is complete. At the deadline the
     * engine aborts itself — never waiting without bound on the abort — and throws
     * {@link dev.kernelbridge.CollectiveTimeoutException}; a device fault is a
     * {@link dev.kernelbridge.DeviceException}. After either, it refuses further calls.
     */
    void allReduce(ReduceOp op, DType dtype, List<BackendBuffer> send, List<BackendBuffer> recv, long count, Duration deadline);

    /** True when the engine can run {@link #allToAll} for {@code dtype}; otherwise the group copies itself. */
    default boolean supportsAllToAll(DType dtype) { return false; }

    /**
     * All-to-all among the engine's ranks: rank r sends {@code layout.sendCounts()[r][j]} elements of
     * {@code send.get(r)} at element {@code layout.sendDispls()[r][j]} to rank j, which receives them
     * into {@code recv.get(j)} at {@code layout.recvDispls()[j][r]}. The group has checked every
     * argument and that every pair agrees. Deadline and failures as for {@link #allReduce}.
     */
    default void allToAll(DType dtype, List<BackendBuffer> send, List<BackendBuffer> recv, AllToAllLayout layout, Duration deadline) {
        throw new UnsupportedOperationException("this collective engine has no all-to-all");
    }

    /** Every rank's all-to-all blocks in elements, indexed [rank][peer]; checked, never empty. */
    record AllToAllLayout(long[][] sendCounts, long[][] sendDispls, long[][] recvCounts, long[][] recvDispls) { }

    /** Releases the engine; must not throw. */
    @Override
    void close();
}
