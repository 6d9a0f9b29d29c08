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
 * The MPI transport: the system's libmpi through FFM. MPI allows one initialisation per process:
 * the first transport initialises it, each transport (one per group, of any bridge) has communicators
 * of its own, and the last one to close finalises MPI, once.
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
            "Fault injection for tests: abort-hangs (MPI_Abort never returns and never ends the process);"
                    + " late-data:MS (this process starts each data exchange MS milliseconds late).");
    static final String INSTALL_HINT = "sudo apt-get install openmpi-bin, then start the job with mpirun -np N";
    private static final int MPI_THREAD_SERIALIZED = 2, MPI_THREAD_MULTIPLE = 3;

    /** The process's MPI, once initialised; guarded by the class. */
    private record Session(MpiLibrary mpi, OpenMpiAbi abi, int threadLevel, String version) { }

    private static Session session;
    private static int open;
    private static boolean finalized;
    /** A transport closed with a call still in flight: MPI_Finalize must not run. */
    private static boolean leftInFlight;

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
                throw new IllegalStateException("MPI was finalized in this process when its last group closed, and cannot be initialized again: keep a KernelBridge open for the whole job");
            }
            if (session == null) {
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
                session = new Session(mpi, abi, provided, version(mpi));
            }
            if (open > 0 && session.threadLevel() < MPI_THREAD_MULTIPLE) {
                throw new IllegalStateException("a second MPI group while another is open needs MPI_THREAD_MULTIPLE, and MPI granted "
                        + threadLevelName(session.threadLevel()) + ": the two groups' calls could reach MPI at once from two threads."
                        + " Close the other group's bridge first, or use an MPI built with thread support");
            }
            boolean abort = !config.get(ON_FAILURE).equalsIgnoreCase("throw");
            long piece = Long.parseLong(config.get(ALLTOALL_PIECE).trim());
            if (piece < 1 || piece > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("kernelbridge.mpi.alltoall.piece must be in [1, 2^31-1], got " + piece);
            }
            MpiTransport t = new MpiTransport(session.mpi(), session.abi(), session.threadLevel(), abort, session.version(),
                    Integer.parseInt(config.get(WORLD_SIZE).strip()), config.getDuration(ABORT_TIMEOUT),
                    config.get(FAULTS).contains("abort-hangs"), piece, lateData(config.get(FAULTS)));
            open++;
            return t;
        }
    }

    /**
     * Called once by each {@link MpiTransport#close()}; {@code clean}: it left no call in flight. The
     * last one finalizes MPI, unless some transport left a call in flight (MPI_Finalize must not run
     * while a request is pending).
     */
    static void release(boolean clean) {
        synchronized (MpiTransportProvider.class) {
            leftInFlight |= !clean;
            if (--open == 0) {
                finalized = true;
                Session s = session;
                session = null;
                if (!leftInFlight) {
                    s.mpi().call("MPI_Finalize");
                }
            }
        }
    }

    private static long lateData(String faults) {
        for (String f : faults.split(",")) {
            if (f.strip().startsWith("late-data:")) {
                return Long.parseLong(f.strip().substring("late-data:".length()));
            }
        }
        return 0;
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
