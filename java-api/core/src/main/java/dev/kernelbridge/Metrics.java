package dev.kernelbridge;

import java.util.List;

/**
 * A snapshot of the scheduler: every device, plus totals of host-memory GEMMs since the bridge opened.
 * {@code retiredTransportBytes}: native memory held for distributed calls that timed out while the
 * engine (MPI) may still write into it, freed once it completes them; above zero only after such a
 * timeout with {@code kernelbridge.mpi.on.failure=throw}.
 */
public record Metrics(List<DeviceMetrics> devices, long operations, long splitOperations, long failovers, long canaryChecks,
                      long canaryMismatches, long retiredTransportBytes) {
    public Metrics {
        devices = List.copyOf(devices);
    }

    /** Without distributed calls held: the scheduler's own snapshot. */
    public Metrics(List<DeviceMetrics> devices, long operations, long splitOperations, long failovers, long canaryChecks, long canaryMismatches) {
        this(devices, operations, splitOperations, failovers, canaryChecks, canaryMismatches, 0);
    }

    /** This snapshot with {@code bytes} held for timed-out distributed calls. */
    public Metrics withRetiredTransportBytes(long bytes) {
        return new Metrics(devices, operations, splitOperations, failovers, canaryChecks, canaryMismatches, bytes);
    }

    /** The metrics of one device id; IllegalArgumentException naming the known ids otherwise. */
    public DeviceMetrics device(String id) {
        return devices.stream().filter(d -> d.device().equals(id)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("device must be one of " + devices.stream().map(DeviceMetrics::device).toList() + ", got '" + id + "'"));
    }
}
