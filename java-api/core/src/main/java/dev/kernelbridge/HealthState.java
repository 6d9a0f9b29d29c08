package dev.kernelbridge;

/**
 * Where a device stands with the scheduler. HEALTHY and DEGRADED devices receive work (healthy ones
 * first); a QUARANTINED device receives none until it passes a verified probe GEMM; a LOST device
 * (sticky fault, device gone) never returns in this process.
 */
public enum HealthState {
    HEALTHY, DEGRADED, QUARANTINED, LOST;

    /** True when the scheduler may send work to a device in this state. */
    public boolean dispatchable() { return this == HEALTHY || this == DEGRADED; }
}
