package dev.kernelbridge.mpi;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;

/**
 * What differs between MPI implementations' binary interfaces: how handles (communicators,
 * datatypes, ops, requests) are represented and where the predefined ones live. Everything else
 * in this module is written against the MPI standard's C prototypes. Open MPI today; MPICH (integer
 * handles) would be a second implementation beside {@link OpenMpiAbi}.
 */
interface MpiAbi {
    /** The name of the library to load when the user names none. */
    String defaultLibrary();

    /** Layout of a handle argument (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request). */
    MemoryLayout handle();

    MemorySegment commWorld();

    MemorySegment datatype(DType dtype);

    MemorySegment byteType();

    /** The MPI op for {@code op}; avg travels as sum (the division happens afterwards). */
    MemorySegment op(ReduceOp op);

    MemorySegment errorsReturn();

    /** MPI_IN_PLACE. */
    MemorySegment inPlace();

    /** Bytes of an MPI_Status. */
    long statusSize();
}
