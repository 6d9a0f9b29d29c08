package dev.kernelbridge.mpi;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;

/**
 * Open MPI (4.x, libmpi.so.40): handles are pointers to predefined global objects exported as
 * symbols (MPI_COMM_WORLD is {@code &ompi_mpi_comm_world}), MPI_IN_PLACE is {@code (void*) 1}, and
 * an MPI_Status is three ints, an int and a size_t (24 bytes), as in its mpi.h.
 */
final class OpenMpiAbi implements MpiAbi {
    private final SymbolLookup lib;
    private final java.util.concurrent.ConcurrentHashMap<String, MemorySegment> symbols = new java.util.concurrent.ConcurrentHashMap<>();

    OpenMpiAbi(SymbolLookup lib) {
        this.lib = lib;
    }

    @Override
    public String defaultLibrary() { return "libmpi.so.40"; }

    @Override
    public MemoryLayout handle() { return ValueLayout.ADDRESS; }

    @Override
    public MemorySegment commWorld() { return symbol("ompi_mpi_comm_world"); }

    @Override
    public MemorySegment datatype(DType dtype) {
        return symbol(switch (dtype) {
            case F32 -> "ompi_mpi_float";
            case F64 -> "ompi_mpi_double";
            case I32 -> "ompi_mpi_int";
            case I8 -> "ompi_mpi_int8_t";
            // Narrow floats travel as 16-bit integers and are reduced by KernelBridge, never by MPI.
            case BF16, F16 -> "ompi_mpi_uint16_t";
        });
    }

    @Override
    public MemorySegment byteType() { return symbol("ompi_mpi_byte"); }

    @Override
    public MemorySegment op(ReduceOp op) {
        return symbol(switch (op) {
            case SUM, AVG -> "ompi_mpi_op_sum";
            case PROD -> "ompi_mpi_op_prod";
            case MIN -> "ompi_mpi_op_min";
            case MAX -> "ompi_mpi_op_max";
        });
    }

    @Override
    public MemorySegment errorsReturn() { return symbol("ompi_mpi_errors_return"); }

    @Override
    public MemorySegment inPlace() { return MemorySegment.ofAddress(1); }

    @Override
    public long statusSize() { return 24; }

    /** Every call names its datatype and op: looking them up once, not per call (a dlsym each). */
    private MemorySegment symbol(String name) {
        MemorySegment known = symbols.get(name);
        return known != null ? known : symbols.computeIfAbsent(name, n -> lib.find(n).orElseThrow(() -> new IllegalStateException(
                "the MPI library does not export " + n + ": not Open MPI, or another ABI (MPICH needs its own MpiAbi)")));
    }
}
