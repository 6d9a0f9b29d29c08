package dev.kernelbridge.cuda;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveTimeoutException;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.DeviceCollectives;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * All-reduce over several GPUs of this process with NCCL, under the communicator's rules: the call
 * is issued for every rank at once (one NCCL group), then completion is polled — each rank's stream
 * and NCCL's asynchronous error — against the deadline. At the deadline every communicator is
 * aborted on a helper thread that is itself given a bounded time; the engine is then dead and the
 * group reports the timeout on every rank.
 */
final class NcclCollectives implements DeviceCollectives {
    private static final int CUDA_ERROR_NOT_READY = 600;
    private static final int NCCL_SUCCESS = 0, NCCL_IN_PROGRESS = 7;
    static final int NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8;
    private static final Duration ABORT_LIMIT = Duration.ofSeconds(10);

    private final Nccl nccl;
    private final List<CudaDevice> ranks;
    private final MemorySegment[] comms;
    private volatile String dead;

    NcclCollectives(Nccl nccl, List<CudaDevice> ranks) {
        this.nccl = nccl;
        this.ranks = List.copyOf(ranks);
        this.comms = new MemorySegment[ranks.size()];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS, ranks.size());
            MemorySegment list = a.allocate(ValueLayout.JAVA_INT, ranks.size());
            for (int r = 0; r < ranks.size(); r++) {
                list.setAtIndex(ValueLayout.JAVA_INT, r, ranks.get(r).ordinal());
            }
            check("ncclCommInitAll", call("ncclCommInitAll", out, ranks.size(), list), ranks.getFirst());
            for (int r = 0; r < ranks.size(); r++) {
                comms[r] = out.getAtIndex(ValueLayout.ADDRESS, r);
            }
        }
    }

    @Override
    public boolean supports(ReduceOp op, DType dtype) {
        return dtype == DType.F32 || dtype == DType.F64;
    }

    /** NCCL's ncclRedOp_t for {@code op}: sum, prod, max, min, avg. */
    static int ncclOp(ReduceOp op) {
        return switch (op) {
            case SUM -> 0;
            case PROD -> 1;
            case MAX -> 2;
            case MIN -> 3;
            case AVG -> 4;
        };
    }

    @Override
    public void allReduce(ReduceOp op, DType dtype, List<BackendBuffer> send, List<BackendBuffer> recv, long count, Duration deadline) {
        if (dead != null) {
            throw new CollectiveException(-1, "the NCCL communicators were aborted earlier: " + dead);
        }
        if (count == 0) {
            return;
        }
        long end = System.nanoTime() + deadline.toNanos();
        int type = dtype == DType.F32 ? NCCL_FLOAT32 : NCCL_FLOAT64;
        check("ncclGroupStart", call("ncclGroupStart"), ranks.getFirst());
        for (int r = 0; r < ranks.size(); r++) {
            CudaDevice d = ranks.get(r);
            d.enter();
            check("ncclAllReduce", call("ncclAllReduce", MemorySegment.ofAddress(((CudaBuffer) send.get(r)).pointer),
                    MemorySegment.ofAddress(((CudaBuffer) recv.get(r)).pointer), count, type, ncclOp(op), comms[r], d.stream()), d);
        }
        check("ncclGroupEnd", call("ncclGroupEnd"), ranks.getFirst());
        awaitCompletion(end, deadline);
    }

    /** Polls every rank's stream and NCCL's asynchronous error until done, a failure, or the deadline. */
    private void awaitCompletion(long end, Duration deadline) {
        boolean[] done = new boolean[ranks.size()];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment async = a.allocate(ValueLayout.JAVA_INT);
            while (true) {
                boolean all = true;
                for (int r = 0; r < ranks.size(); r++) {
                    if (done[r]) {
                        continue;
                    }
                    CudaDevice d = ranks.get(r);
                    d.enter();
                    int q = d.driver().call("cuStreamQuery", d.stream());
                    if (q == 0) {
                        done[r] = true;
                        continue;
                    }
                    all = false;
                    if (q != CUDA_ERROR_NOT_READY) {
                        d.check("cuStreamQuery", q); // throws, poisoning the device when the error is sticky
                    }
                    call("ncclCommGetAsyncError", comms[r], async);
                    int e = async.get(ValueLayout.JAVA_INT, 0);
                    if (e != NCCL_SUCCESS && e != NCCL_IN_PROGRESS) {
                        abortAll("NCCL reported " + errorString(e) + " on " + d.id());
                        throw new DeviceException(d.id(), e, "NCCL_ERROR_" + e, "NCCL all-reduce failed: " + errorString(e));
                    }
                }
                if (all) {
                    return;
                }
                if (System.nanoTime() > end) {
                    List<Integer> late = IntStream.range(0, done.length).filter(r -> !done[r]).boxed().toList();
                    abortAll("deadline of " + deadline.toMillis() + " ms passed");
                    throw new CollectiveTimeoutException(-1, late, "NCCL all-reduce not complete within " + deadline.toMillis()
                            + " ms on ranks " + late + "; the NCCL communicators were aborted");
                }
                Thread.onSpinWait();
            }
        }
    }

    /** ncclCommAbort on every communicator, on a helper thread waited for at most {@link #ABORT_LIMIT}. */
    private void abortAll(String why) {
        dead = why;
        Thread aborter = Thread.ofPlatform().daemon().name("kernelbridge-nccl-abort").start(() -> {
            for (MemorySegment comm : comms) {
                call("ncclCommAbort", comm);
            }
        });
        try {
            if (!aborter.join(ABORT_LIMIT)) {
                System.getLogger("dev.kernelbridge.cuda").log(System.Logger.Level.ERROR,
                        "ncclCommAbort did not return within {0} s; leaving it to the process''s end", ABORT_LIMIT.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (dead == null) {
            for (MemorySegment comm : comms) {
                call("ncclCommDestroy", comm);
            }
            dead = "closed";
        }
    }

    private void check(String function, int result, CudaDevice device) {
        if (result != NCCL_SUCCESS) {
            throw new DeviceException(device.id(), result, "NCCL_ERROR_" + result, function + " failed: " + errorString(result));
        }
    }

    private String errorString(int result) {
        try {
            MemorySegment s = (MemorySegment) nccl.handles().get("ncclGetErrorString").invokeExact(result);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "NCCL error " + result;
        }
    }

    private int call(String name, Object... args) {
        try {
            return (int) nccl.handles().get(name).invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
    }
}
