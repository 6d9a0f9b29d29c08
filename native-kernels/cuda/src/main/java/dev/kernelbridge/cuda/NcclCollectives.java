package dev.kernelbridge.cuda;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveTimeoutException;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.DeviceCollectives;
import dev.kernelbridge.spi.DeviceCollectives.AllToAllLayout;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * All-reduce over several GPUs of this process with NCCL, under the communicator's rules:
 * non-blocking communicators (so no NCCL call can hold the caller), the call issued for every rank
 * at once (one NCCL group), then completion polled — each rank's stream and NCCL's asynchronous
 * state — against the deadline. At the deadline every communicator is aborted on a helper thread
 * that is itself given a bounded time; the engine is then dead and the group reports the timeout
 * on every rank.
 */
final class NcclCollectives implements DeviceCollectives {
    private static final int CUDA_ERROR_NOT_READY = 600;
    private static final int NCCL_SUCCESS = 0, NCCL_IN_PROGRESS = 7;
    /** ncclDataType_t values (nccl.h); ncclBfloat16 exists in every NCCL with ncclConfig_t (2.14 on), which this class needs anyway. */
    static final int NCCL_INT8 = 0, NCCL_INT32 = 2, NCCL_FLOAT16 = 6, NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8, NCCL_BFLOAT16 = 9;
    private static final Duration ABORT_LIMIT = Duration.ofSeconds(10);

    private final Nccl nccl;
    private final List<CudaDevice> ranks;
    private final MemorySegment[] comms;
    private volatile String dead;

    /**
     * One non-blocking communicator per GPU, created as one NCCL group; creation is polled against
     * {@code deadline} like every call, and aborted when it misses it.
     */
    NcclCollectives(Nccl nccl, List<CudaDevice> ranks, Duration deadline) {
        this.nccl = nccl;
        this.ranks = List.copyOf(ranks);
        this.comms = new MemorySegment[ranks.size()];
        try (Arena a = NativeMemory.confined()) {
            MemorySegment id = a.allocate(Nccl.UNIQUE_ID);
            check("ncclGetUniqueId", call("ncclGetUniqueId", id), ranks.getFirst());
            MemorySegment config = nonBlockingConfig(a);
            MemorySegment out = a.allocate(ValueLayout.ADDRESS, ranks.size());
            long until = System.nanoTime() + deadline.toNanos();
            inGroup(() -> {
                for (int r = 0; r < ranks.size(); r++) {
                    ranks.get(r).enter(); // NCCL takes the device from the current context
                    int result = call("ncclCommInitRankConfig", out.asSlice(r * ValueLayout.ADDRESS.byteSize(), ValueLayout.ADDRESS.byteSize()),
                            ranks.size(), id, r, config);
                    if (result != NCCL_IN_PROGRESS) {
                        check("ncclCommInitRankConfig", result, ranks.get(r));
                    }
                }
            }, () -> {
                // before the arena holding id, config and out closes: initialisation reads and writes them
                for (int r = 0; r < ranks.size(); r++) {
                    comms[r] = out.getAtIndex(ValueLayout.ADDRESS, r);
                }
                awaitCommunicators(until, deadline);
            });
        }
    }

    /** ncclConfig_t with blocking = 0, in the 2.14 layout every later NCCL accepts (size, magic, version first). */
    private static MemorySegment nonBlockingConfig(Arena a) {
        MemorySegment c = a.allocate(24, 8);
        c.set(ValueLayout.JAVA_LONG, 0, 24);                  // size
        c.set(ValueLayout.JAVA_INT, 8, 0xcafebeef);           // magic
        c.set(ValueLayout.JAVA_INT, 12, 2 * 10000 + 14 * 100); // version: NCCL_VERSION(2, 14, 0)
        c.set(ValueLayout.JAVA_INT, 16, 0);                   // blocking
        return c;
    }

    /** Non-blocking communicators are usable once their asynchronous state leaves ncclInProgress. */
    private void awaitCommunicators(long end, Duration deadline) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment state = a.allocate(ValueLayout.JAVA_INT);
            for (int r = 0; r < comms.length; r++) {
                while (true) {
                    call("ncclCommGetAsyncError", comms[r], state);
                    int s = state.get(ValueLayout.JAVA_INT, 0);
                    if (s == NCCL_SUCCESS) {
                        break;
                    }
                    if (s != NCCL_IN_PROGRESS) {
                        abortAll("communicator creation failed: " + errorString(s));
                        throw new DeviceException(ranks.get(r).id(), s, "NCCL_ERROR_" + s, "ncclCommInitRankConfig failed: " + errorString(s));
                    }
                    if (System.nanoTime() > end) {
                        abortAll("communicator creation missed its deadline");
                        throw new CollectiveTimeoutException(-1, List.of(r), "NCCL communicator of rank " + r + " not ready within "
                                + deadline.toMillis() + " ms; the communicators were aborted");
                    }
                    Thread.onSpinWait();
                }
            }
        }
    }

    /**
     * Every type NCCL has, with every op but avg of the integer types (KernelBridge defines no integer
     * average; NCCL's would truncate). BF16 and F16 reduce in NCCL's own order and precision, so their
     * bits may differ from the rank-order F32 fold of KernelBridge's own reductions.
     */
    @Override
    public boolean supports(ReduceOp op, DType dtype) {
        return supported(op, dtype);
    }

    static boolean supported(ReduceOp op, DType dtype) {
        return dtype.isFloatingPoint() || op != ReduceOp.AVG;
    }

    /** NCCL's ncclDataType_t for {@code dtype}. */
    static int ncclType(DType dtype) {
        return switch (dtype) {
            case F32 -> NCCL_FLOAT32;
            case F64 -> NCCL_FLOAT64;
            case BF16 -> NCCL_BFLOAT16;
            case F16 -> NCCL_FLOAT16;
            case I8 -> NCCL_INT8;
            case I32 -> NCCL_INT32;
        };
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
        long until = System.nanoTime() + deadline.toNanos();
        int type = ncclType(dtype);
        inGroup(() -> {
            for (int r = 0; r < ranks.size(); r++) {
                CudaDevice d = ranks.get(r);
                d.enter();
                int result = call("ncclAllReduce", MemorySegment.ofAddress(((CudaBuffer) send.get(r)).pointer),
                        MemorySegment.ofAddress(((CudaBuffer) recv.get(r)).pointer), count, type, ncclOp(op), comms[r], d.stream());
                if (result != NCCL_IN_PROGRESS) { // non-blocking communicators may still be enqueuing
                    check("ncclAllReduce", result, d);
                }
            }
        }, () -> awaitCompletion(until, deadline));
    }

    /**
     * Runs {@code enqueue} between ncclGroupStart and ncclGroupEnd, then {@code await}. The group is
     * ended even when enqueueing fails half-way: otherwise what was enqueued (raw device pointers of
     * the caller's buffers) would be issued by some later group of this thread, after the caller may
     * have freed them, and that group would launch nothing of its own. What was enqueued is waited
     * for before the failure goes on.
     */
    private void inGroup(Runnable enqueue, Runnable await) {
        check("ncclGroupStart", call("ncclGroupStart"), ranks.getFirst());
        RuntimeException failed = null;
        try {
            enqueue.run();
        } catch (RuntimeException e) {
            failed = e;
        }
        int end = call("ncclGroupEnd");
        if (failed != null) {
            try {
                await.run();
            } catch (RuntimeException e) {
                failed.addSuppressed(e);
            }
            throw failed;
        }
        if (end != NCCL_IN_PROGRESS) {
            check("ncclGroupEnd", end, ranks.getFirst());
        }
        await.run();
    }

    /** Every type: all-to-all moves bytes (as ncclInt8, so any type and any bit pattern travel unchanged). */
    @Override
    public boolean supportsAllToAll(DType dtype) {
        return true;
    }

    /** One point-to-point step of an all-to-all for one rank: send or receive {@code bytes} at {@code byteOffset} with {@code peer}. */
    record Transfer(boolean send, int peer, long byteOffset, long bytes) { }

    /**
     * The NCCL calls of an all-to-all, per rank: for every peer with a non-empty block, an ncclSend
     * of rank r's block for it and an ncclRecv of its block for r, in peer order. All of them are
     * issued inside one ncclGroupStart/End, which lets NCCL pair them without deadlock whatever the
     * order. Counts in bytes (size_t, so no 2^31 limit).
     */
    static List<List<Transfer>> plan(AllToAllLayout layout, long elementBytes) {
        int ranks = layout.sendCounts().length;
        List<List<Transfer>> plan = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            List<Transfer> mine = new ArrayList<>();
            for (int peer = 0; peer < ranks; peer++) {
                if (layout.sendCounts()[r][peer] > 0) {
                    mine.add(new Transfer(true, peer, layout.sendDispls()[r][peer] * elementBytes, layout.sendCounts()[r][peer] * elementBytes));
                }
                if (layout.recvCounts()[r][peer] > 0) {
                    mine.add(new Transfer(false, peer, layout.recvDispls()[r][peer] * elementBytes, layout.recvCounts()[r][peer] * elementBytes));
                }
            }
            plan.add(mine);
        }
        return plan;
    }

    @Override
    public void allToAll(DType dtype, List<BackendBuffer> send, List<BackendBuffer> recv, AllToAllLayout layout, Duration deadline) {
        if (dead != null) {
            throw new CollectiveException(-1, "the NCCL communicators were aborted earlier: " + dead);
        }
        List<List<Transfer>> plan = plan(layout, dtype.byteSize());
        if (plan.stream().allMatch(List::isEmpty)) {
            return;
        }
        long until = System.nanoTime() + deadline.toNanos();
        inGroup(() -> {
            for (int r = 0; r < ranks.size(); r++) {
                CudaDevice d = ranks.get(r);
                d.enter();
                for (Transfer t : plan.get(r)) {
                    long base = ((CudaBuffer) (t.send() ? send : recv).get(r)).pointer;
                    String fn = t.send() ? "ncclSend" : "ncclRecv";
                    int result = call(fn, MemorySegment.ofAddress(base + t.byteOffset()), t.bytes(), NCCL_INT8, t.peer(), comms[r], d.stream());
                    if (result != NCCL_IN_PROGRESS) {
                        check(fn, result, d);
                    }
                }
            }
        }, () -> awaitCompletion(until, deadline));
    }

    /** Polls every rank's stream and NCCL's asynchronous error until done, a failure, or the deadline. */
    private void awaitCompletion(long end, Duration deadline) {
        awaitCommunicators(end, deadline); // enqueueing on non-blocking communicators finishes asynchronously
        boolean[] done = new boolean[ranks.size()];
        try (Arena a = NativeMemory.confined()) {
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
        return nccl.errorString(result);
    }

    private int call(String name, Object... args) {
        return nccl.call(name, args);
    }
}
