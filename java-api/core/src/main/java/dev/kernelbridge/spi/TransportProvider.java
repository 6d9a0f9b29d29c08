package dev.kernelbridge.spi;

import dev.kernelbridge.Config;

/**
 * Entry point of a distributed collective engine (MPI today), found by {@link java.util.ServiceLoader}
 * like a {@link BackendProvider}. The engine moves host memory between processes; KernelBridge stages
 * device buffers and composes it with in-process groups.
 */
public interface TransportProvider {
    /** Short lower-case name, as in {@code kernelbridge.transport}: "mpi". */
    String name();

    default int spiVersion() { return BackendProvider.SPI_VERSION; }

    /** The settings this transport reads beside the core ones, as {@link BackendProvider#knobs()}. */
    default java.util.List<dev.kernelbridge.Config.Knob> knobs() { return java.util.List.of(); }

    /** Whether the engine's library is here and how this process was launched. Never throws. */
    Availability probe();

    /**
     * A transport for one group of the distributed job, after a successful probe; called once per
     * group ({@code worldCommunicators}), by every process in the same order. The first call joins the
     * job (MPI_Init_thread); each returns communication of its own (MPI_Comm_dup); the engine is left
     * (MPI_Finalize) exactly once, when the last transport of the process closes.
     */
    Transport open(Config config);
}
