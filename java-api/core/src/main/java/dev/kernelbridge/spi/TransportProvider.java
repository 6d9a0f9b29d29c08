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

    /** Joins the distributed job (e.g. MPI_Init_thread). Called once per bridge, after a successful probe. */
    Transport open(Config config);
}
