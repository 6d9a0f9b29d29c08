package dev.kernelbridge;

import java.util.List;

/**
 * What {@link KernelBridge#tune} found for one device: per kernel and dtype, the parameters that
 * won, their speed and the speed of what the device used before, and where the result was stored.
 */
public record TuningReport(String deviceId, String database, List<Kernel> kernels) {
    public TuningReport {
        kernels = List.copyOf(kernels);
    }

    /**
     * One tuned kernel. {@code candidates} were built and timed; {@code rejected} failed to build,
     * ran out of resources or gave a wrong result and were skipped.
     */
    public record Kernel(String kernel, DType dtype, String parameters, double gflops, double previousGflops,
                         int candidates, int rejected, String shape) { }

    /** Progress of a tuning run: {@code fraction} of the budget used, and what is being tried. */
    @FunctionalInterface
    public interface Listener {
        void progress(double fraction, String message);
    }
}
