package dev.kernelbridge.cuda;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * NCCL (libnccl.so.2) through FFM: the functions multi-GPU collectives need — in-process
 * communicators, all-reduce on a stream, the asynchronous error poll a deadline watchdog uses, and
 * abort. Checked against nccl.h (or the checked-in prototypes). Used by {@link NcclCollectives} only
 * where the user allows vendor collectives: NCCL's reduction order is not rank order, so it cannot
 * give the bitwise results KernelBridge's own communicators promise.
 */
final class Nccl {
    private static final java.lang.foreign.MemoryLayout P = NativeFunction.P, I = NativeFunction.I, L = NativeFunction.L;

    /** ncclUniqueId: 128 opaque bytes, passed by value to ncclCommInitRankConfig. */
    static final java.lang.foreign.StructLayout UNIQUE_ID = java.lang.foreign.MemoryLayout.structLayout(
            java.lang.foreign.MemoryLayout.sequenceLayout(128, java.lang.foreign.ValueLayout.JAVA_BYTE));

    /** Every call returns ncclResult_t (an int) except ncclGetErrorString. */
    static final Map<String, NativeFunction> FUNCTIONS = NativeFunction.table(
            NativeFunction.of("ncclGetVersion", I, P),
            NativeFunction.of("ncclGetUniqueId", I, P),
            // ncclComm_t *comm, int nranks, ncclUniqueId commId (by value), int rank, ncclConfig_t *config
            NativeFunction.of("ncclCommInitRankConfig", I, P, I, UNIQUE_ID, I, P),
            NativeFunction.of("ncclAllReduce", I, P, P, L, I, I, P, P),
            // const void *sendbuff / void *recvbuff, size_t count, ncclDataType_t, int peer, ncclComm_t, cudaStream_t (NCCL 2.7+)
            NativeFunction.of("ncclSend", I, P, L, I, I, P, P),
            NativeFunction.of("ncclRecv", I, P, L, I, I, P, P),
            NativeFunction.of("ncclCommGetAsyncError", I, P, P),
            NativeFunction.of("ncclCommAbort", I, P),
            NativeFunction.of("ncclCommDestroy", I, P),
            NativeFunction.of("ncclGroupStart", I),
            NativeFunction.of("ncclGroupEnd", I),
            NativeFunction.of("ncclGetErrorString", P, I));

    static final List<String> LIBRARIES = List.of("libnccl.so.2", "libnccl.so");

    private final NativeLibrary lib;

    private Nccl(NativeLibrary lib) {
        this.lib = lib;
    }

    /** The library where {@link LibrarySearch} finds it (looked for once per process), or empty. */
    static Optional<Nccl> load() {
        return Found.LIBRARY;
    }

    /** Looked for once per process, on first use (class initialisation is lazy and thread-safe). */
    private static final class Found {
        static final Optional<Nccl> LIBRARY = NativeLibrary.search(LIBRARIES, FUNCTIONS, name -> { }).map(Nccl::new);
    }

    int call(String name, Object... args) {
        return lib.call(name, args);
    }

    String errorString(int result) {
        return lib.text("ncclGetErrorString", result, "NCCL error " + result);
    }
}
