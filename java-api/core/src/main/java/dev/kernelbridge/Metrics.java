package dev.kernelbridge;

import java.util.List;

/** A snapshot of the scheduler: every device, plus totals of host-memory GEMMs since the bridge opened. */
public record Metrics(List<DeviceMetrics> devices, long operations, long splitOperations, long failovers, long canaryChecks,
                      long canaryMismatches) {
    public Metrics {
        devices = List.copyOf(devices);
    }

    /** The metrics of one device id; IllegalArgumentException naming the known ids otherwise. */
    public DeviceMetrics device(String id) {
        return devices.stream().filter(d -> d.device().equals(id)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("device must be one of " + devices.stream().map(DeviceMetrics::device).toList() + ", got '" + id + "'"));
    }
}
