package dev.kernelbridge.mpi;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.spi.Transport;
import dev.kernelbridge.spi.TransportProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;

/**
 * The MPI transport: the system's libmpi through FFM. MPI allows one initialisation per process,
 * so the transport is shared by every bridge of the process and finalised when the last one closes.
 */
public final class MpiTransportProvider implements TransportProvider {
    public static final Config.Knob LIBRARY = new Config.Knob("mpi.library", "",
            "Path or name of the MPI library; empty means Open MPI's libmpi.so.40.");
    public static final Config.Knob ON_FAILURE = new Config.Knob("mpi.on.failure", "abort",
            "abort: a timed-out or mismatched collective prints its error and ends the job (MPI_Abort); throw: the caller gets the exception.");
    public static final Config.Knob ALLTOALL_PIECE = new Config.Knob("mpi.alltoall.piece", String.valueOf(Integer.MAX_VALUE),
            "Most elements one MPI_Alltoallv moves per rank pair (and the largest displacement it is given); larger all-to-alls go in rounds."
                    + " MPI's counts are ints, hence the default 2^31-1; tests set it small to exercise the rounds.");
    public static final Config.Knob WORLD_SIZE = new Config.Knob("mpi.world.size", "0",
            "Processes the job must have; a process launched into a job of another size refuses to join (per mpi.on.failure). 0: any.");
    public static final Config.Knob ABORT_TIMEOUT = new Config.Knob("mpi.abort.timeout", "30s",
            "When ending the job (MPI_Abort) has not ended this process after this long, it prints its last collectives and exits with code 5.");
    public static final Config.Knob FAULTS = new Config.Knob("mpi.faults", "",
            "Fault injection for tests: abort-hangs (MPI_Abort never returns and never ends the process).");
    static final String INSTALL_HINT = "sudo apt-get install openmpi-bin, then start the job with mpirun -np N";
    private static final int MPI_THREAD_SERIALIZED = 2, MPI_THREAD_MULTIPLE = 3;

    private static MpiTransport shared;
    private static int users;
    private static boolean finalized;

    @Override
    public String name() { return "mpi"; }

    @Override
    public java.util.List<Config.Knob> knobs() { return java.util.List.of(LIBRARY, ON_FAILURE, ALLTOALL_PIECE, WORLD_SIZE, ABORT_TIMEOUT, FAULTS); }

    @Override
    public Availability probe() {
        try {
            String library = library(Config.fromEnvironment());
            SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
            new OpenMpiAbi(lib).commWorld();
            String size = System.getenv("OMPI_COMM_WORLD_SIZE");
            return Availability.ok("Open MPI (" + library + ")" + (size != null
                    ? ", launched by mpirun: rank " + System.getenv("OMPI_COMM_WORLD_RANK") + " of " + size
                    : ", not launched by mpirun: a job of one process"));
        } catch (Throwable e) {
            return Availability.unavailable("no usable MPI library: " + e.getMessage(), INSTALL_HINT);
        }
    }

    @Override
    public synchronized Transport open(Config config) {
        synchronized (MpiTransportProvider.class) {
            if (finalized) {
                throw new IllegalStateException("MPI was finalized in this process and cannot be initialized again: keep one KernelBridge open for the job");
            }
            if (shared == null) {
                SymbolLookup lib = SymbolLookup.libraryLookup(library(config), Arena.global());
                OpenMpiAbi abi = new OpenMpiAbi(lib);
                MpiLibrary mpi = new MpiLibrary(lib, abi);
                int provided;
                try (Arena a = NativeMemory.confined()) {
                    MemorySegment flag = a.allocate(ValueLayout.JAVA_INT);
                    mpi.run("MPI_Initialized", flag);
                    MemorySegment level = a.allocate(ValueLayout.JAVA_INT);
                    if (flag.get(ValueLayout.JAVA_INT, 0) == 0) {
                        mpi.run("MPI_Init_thread", MemorySegment.NULL, MemorySegment.NULL, MPI_THREAD_MULTIPLE, level);
                    } else {
                        mpi.run("MPI_Query_thread", level);
                    }
                    provided = level.get(ValueLayout.JAVA_INT, 0);
                    if (provided < MPI_THREAD_SERIALIZED) {
                        throw new IllegalStateException("MPI granted thread level " + threadLevelName(provided)
                                + "; KernelBridge calls MPI from its own threads and needs at least SERIALIZED");
                    }
                }
                boolean abort = !config.get(ON_FAILURE).equalsIgnoreCase("throw");
                long piece = Long.parseLong(config.get(ALLTOALL_PIECE).trim());
                if (piece < 1 || piece > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("kernelbridge.mpi.alltoall.piece must be in [1, 2^31-1], got " + piece);
                }
                shared = new MpiTransport(mpi, abi, provided, abort, version(mpi), Integer.parseInt(config.get(WORLD_SIZE).strip()),
                        config.getDuration(ABORT_TIMEOUT), config.get(FAULTS).contains("abort-hangs"), piece);
            }
            users++;
            return shared;
        }
    }

    /** Called by {@link MpiTransport#close()}: the last user finalizes MPI. */
    static void release(MpiTransport transport) {
        synchronized (MpiTransportProvider.class) {
            if (transport == shared && --users == 0) {
                shared = null;
                finalized = true;
                transport.finalizeMpi();
            }
        }
    }

    private static String library(Config config) {
        String name = config.get(LIBRARY);
        return name.isEmpty() ? "libmpi.so.40" : name;
    }

    private static String version(MpiLibrary mpi) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment text = a.allocate(8192);
            MemorySegment len = a.allocate(ValueLayout.JAVA_INT);
            mpi.run("MPI_Get_library_version", text, len);
            String v = text.getString(0);
            int comma = v.indexOf(',');
            return (comma > 0 ? v.substring(0, comma) : v).strip();
        }
    }

    static String threadLevelName(int level) {
        return switch (level) {
            case 0 -> "SINGLE";
            case 1 -> "FUNNELED";
            case 2 -> "SERIALIZED";
            case 3 -> "MULTIPLE";
            default -> "level " + level;
        };
    }
}
