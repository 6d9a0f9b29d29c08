/** The OpenCL backend of KernelBridge: GEMM and collective kernels on any OpenCL device (LWJGL). */
module dev.kernelbridge.opencl {
    requires dev.kernelbridge.api;
    requires org.lwjgl;
    requires org.lwjgl.opencl;
    requires com.google.gson;
    requires dev.kernelbridge.tuning;
    requires jdk.jfr;

    provides dev.kernelbridge.spi.BackendProvider with dev.kernelbridge.opencl.OpenClBackendProvider;
}
