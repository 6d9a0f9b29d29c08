package dev.kernelbridge.mpi;

import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The MPI functions this module calls, bound through FFM. {@link #FUNCTIONS} is the one table of
 * names and C prototypes (from the MPI standard); handle arguments take the ABI's handle layout.
 * Every function returns an MPI error code, checked by the caller.
 */
final class MpiLibrary {
    /** Argument kinds of the table: a handle (H), a pointer (P), an int (I). */
    private enum Arg { H, P, I }

    /** Name → arguments, as declared in mpi.h (MPI-3.1). */
    static final Map<String, Arg[]> FUNCTIONS = table();

    private static Map<String, Arg[]> table() {
        Map<String, Arg[]> t = new LinkedHashMap<>();
        t.put("MPI_Init_thread", new Arg[] {Arg.P, Arg.P, Arg.I, Arg.P});          // int *argc, char ***argv, int required, int *provided
        t.put("MPI_Initialized", new Arg[] {Arg.P});                               // int *flag
        t.put("MPI_Finalized", new Arg[] {Arg.P});                                 // int *flag
        t.put("MPI_Finalize", new Arg[] {});
        t.put("MPI_Query_thread", new Arg[] {Arg.P});                              // int *provided
        t.put("MPI_Get_library_version", new Arg[] {Arg.P, Arg.P});                // char *version, int *resultlen
        t.put("MPI_Error_string", new Arg[] {Arg.I, Arg.P, Arg.P});                // int errorcode, char *string, int *resultlen
        t.put("MPI_Comm_rank", new Arg[] {Arg.H, Arg.P});                          // MPI_Comm comm, int *rank
        t.put("MPI_Comm_size", new Arg[] {Arg.H, Arg.P});                          // MPI_Comm comm, int *size
        t.put("MPI_Comm_dup", new Arg[] {Arg.H, Arg.P});                           // MPI_Comm comm, MPI_Comm *newcomm
        t.put("MPI_Comm_free", new Arg[] {Arg.P});                                 // MPI_Comm *comm
        t.put("MPI_Comm_set_errhandler", new Arg[] {Arg.H, Arg.H});                // MPI_Comm comm, MPI_Errhandler errhandler
        t.put("MPI_Iallreduce", new Arg[] {Arg.P, Arg.P, Arg.I, Arg.H, Arg.H, Arg.H, Arg.P});
        t.put("MPI_Ireduce_scatter_block", new Arg[] {Arg.P, Arg.P, Arg.I, Arg.H, Arg.H, Arg.H, Arg.P});
        t.put("MPI_Iallgather", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.P, Arg.I, Arg.H, Arg.H, Arg.P});
        t.put("MPI_Ibcast", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.I, Arg.H, Arg.P});
        t.put("MPI_Allreduce", new Arg[] {Arg.P, Arg.P, Arg.I, Arg.H, Arg.H, Arg.H});
        t.put("MPI_Reduce_scatter_block", new Arg[] {Arg.P, Arg.P, Arg.I, Arg.H, Arg.H, Arg.H});
        t.put("MPI_Allgather", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.P, Arg.I, Arg.H, Arg.H});
        t.put("MPI_Bcast", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.I, Arg.H});
        // The narrow-float reductions: MPI moves the bits, KernelBridge folds (see MpiTransport).
        t.put("MPI_Alltoallv", new Arg[] {Arg.P, Arg.P, Arg.P, Arg.H, Arg.P, Arg.P, Arg.P, Arg.H, Arg.H});
        t.put("MPI_Ialltoallv", new Arg[] {Arg.P, Arg.P, Arg.P, Arg.H, Arg.P, Arg.P, Arg.P, Arg.H, Arg.H, Arg.P});
        t.put("MPI_Allgatherv", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.P, Arg.P, Arg.P, Arg.H, Arg.H});
        t.put("MPI_Iallgatherv", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.P, Arg.P, Arg.P, Arg.H, Arg.H, Arg.P});
        t.put("MPI_Isend", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.I, Arg.I, Arg.H, Arg.P});
        t.put("MPI_Irecv", new Arg[] {Arg.P, Arg.I, Arg.H, Arg.I, Arg.I, Arg.H, Arg.P});
        t.put("MPI_Test", new Arg[] {Arg.P, Arg.P, Arg.P});                        // MPI_Request *request, int *flag, MPI_Status *status
        t.put("MPI_Abort", new Arg[] {Arg.H, Arg.I});                              // MPI_Comm comm, int errorcode
        return Map.copyOf(t);
    }

    private final Map<String, MethodHandle> handles = new LinkedHashMap<>();

    MpiLibrary(SymbolLookup lib, MpiAbi abi) {
        Linker linker = Linker.nativeLinker();
        for (var f : FUNCTIONS.entrySet()) {
            MemoryLayout[] args = new MemoryLayout[f.getValue().length];
            for (int i = 0; i < args.length; i++) {
                args[i] = switch (f.getValue()[i]) {
                    case H -> abi.handle();
                    case P -> ValueLayout.ADDRESS;
                    case I -> ValueLayout.JAVA_INT;
                };
            }
            handles.put(f.getKey(), linker.downcallHandle(lib.findOrThrow(f.getKey()), FunctionDescriptor.of(ValueLayout.JAVA_INT, args)));
        }
    }

    /** MPI_Test without boxing: it is the call the wait loops make most often. */
    int test(MemorySegment request, MemorySegment flag, MemorySegment status) {
        try {
            return (int) handles.get("MPI_Test").invokeExact(request, flag, status);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Test failed", t);
        }
    }

    /** MPI_Isend / MPI_Irecv without boxing (every collective posts them for its header). */
    int point(String name, MemorySegment buf, int count, MemorySegment type, int peer, int tag, MemorySegment comm, MemorySegment request) {
        try {
            return (int) handles.get(name).invokeExact(buf, count, type, peer, tag, comm, request);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
    }

    /** MPI_Allreduce without boxing: the hot data call. */
    int allreduce(MemorySegment send, MemorySegment recv, int count, MemorySegment type, MemorySegment op, MemorySegment comm) {
        try {
            return (int) handles.get("MPI_Allreduce").invokeExact(send, recv, count, type, op, comm);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("MPI_Allreduce failed", t);
        }
    }

    /** Throws with MPI's own words unless {@code code} is MPI_SUCCESS. */
    void check(String name, int code) {
        if (code != 0) {
            throw new MpiException(name, code, errorString(code));
        }
    }

    /** Calls {@code name} with {@code args}; returns its MPI error code. */
    int call(String name, Object... args) {
        try {
            return (int) handles.get(name).invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
    }

    /** Calls {@code name} and throws with MPI's own words when it does not return MPI_SUCCESS. */
    void run(String name, Object... args) {
        int code = call(name, args);
        if (code != 0) {
            throw new MpiException(name, code, errorString(code));
        }
    }

    String errorString(int code) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment text = arena.allocate(1024); // MPI_MAX_ERROR_STRING: 256 in Open MPI, 1024 in MPICH
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            if (call("MPI_Error_string", code, text, len) != 0) {
                return "MPI error " + code;
            }
            return text.getString(0);
        }
    }

    /** An MPI call that returned an error code. */
    static final class MpiException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int code;

        MpiException(String call, int code, String text) {
            super(call + " failed with MPI error " + code + ": " + text);
            this.code = code;
        }
    }
}
