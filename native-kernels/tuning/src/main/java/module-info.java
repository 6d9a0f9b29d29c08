/** Tuned kernel parameters as data, shared by the backends that run the shared kernel sources (OpenCL, CUDA). */
module dev.kernelbridge.tuning {
    requires com.google.gson;
    requires transitive dev.kernelbridge.api;

    exports dev.kernelbridge.tuning;
}
