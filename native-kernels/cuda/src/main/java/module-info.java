/** The CUDA backend of KernelBridge: the driver API through FFM, kernels shipped as PTX. */
module dev.kernelbridge.cuda {
    requires dev.kernelbridge.api;
    requires dev.kernelbridge.tuning;

    provides dev.kernelbridge.spi.BackendProvider with dev.kernelbridge.cuda.CudaBackendProvider;
}
