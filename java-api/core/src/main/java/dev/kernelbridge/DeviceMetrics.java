package dev.kernelbridge;

import java.util.Map;

/**
 * One device as the scheduler sees it at one moment.
 *
 * @param throughput live GEMM throughput in GFLOP/s per shape class ("f32 n~1024"), measured
 * @param failoversFrom operations or parts moved away from this device after it failed
 * @param failoversTo operations or parts this device took over from a failed one
 */
public record DeviceMetrics(String device, HealthState state, String reason, long launches, long failures, long timeouts,
                            long corruptions, long failoversFrom, long failoversTo, long probes,
                            Map<String, Double> throughput) {
    public DeviceMetrics {
        throughput = Map.copyOf(throughput);
    }
}
