/** Distributed collectives for KernelBridge over the system's MPI library (FFM; Open MPI's ABI today). */
module dev.kernelbridge.mpi {
    requires dev.kernelbridge.api;

    provides dev.kernelbridge.spi.TransportProvider with dev.kernelbridge.mpi.MpiTransportProvider;
}
