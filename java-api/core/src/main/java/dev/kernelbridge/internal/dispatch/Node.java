package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.spi.BackendDevice;
import java.util.concurrent.atomic.AtomicInteger;

/** A device as the scheduler sees it. {@code trusted}: a device that runs on the caller's thread and cannot hang (BackendDevice.runsOnCallerThread). */
final class Node {
    final String id;
    final BackendDevice spi;
    final boolean trusted;
    final boolean cpu;
    final Health health;
    /** A hot spare held back: it takes no work until it takes the place of a device that left service. */
    volatile boolean standby;
    /** Launches running on the device now: a launch that shared it does not measure its throughput. */
    final AtomicInteger busy = new AtomicInteger();
    /** Small in-place launches seen; one in {@value #SMALL_TIMED_EVERY} is timed. */
    private final AtomicInteger smallLaunches = new AtomicInteger();
    /** Work from which every in-place launch is timed: two clock reads are noise beside it. */
    private static final double ALWAYS_TIMED_FLOPS = 1e6;
    private static final int SMALL_TIMED_EVERY = 16;

    Node(String id, BackendDevice spi, boolean trusted, boolean cpu, Health health) {
        this.id = id;
        this.spi = spi;
        this.trusted = trusted;
        this.cpu = cpu;
        this.health = health;
    }

    /** Whether placement may give it work: in service and not a spare on standby. */
    boolean serving() {
        return !standby && health.dispatchable();
    }

    /** Whether a failure here and one on {@code other} say nothing about each other's hardware: another backend or another model. */
    boolean unlike(Node other) {
        return !id.substring(0, id.indexOf(':') + 1).equals(other.id.substring(0, other.id.indexOf(':') + 1))
                || !spi.info().name().equals(other.spi.info().name());
    }

    /**
     * Whether to time an in-place launch of {@code flops}: always for real work; for tiny GEMMs, whose
     * clock reads and timed bookkeeping would cost as much as the GEMM, a sample is enough for the
     * throughput average that placement reads (drift is not judged on calls that short anyway).
     */
    boolean timeInPlace(double flops) {
        return flops >= ALWAYS_TIMED_FLOPS || (smallLaunches.getAndIncrement() & (SMALL_TIMED_EVERY - 1)) == 0;
    }

    /** Successful launches, counted to read the device's telemetry once per window of them. */
    private final java.util.concurrent.atomic.AtomicLong launched = new java.util.concurrent.atomic.AtomicLong();

    /** After a successful launch: every {@link dev.kernelbridge.internal.foresight.TrendRule#WINDOW}th reads the device's telemetry for the trend rules. */
    void launched() {
        if (launched.incrementAndGet() % dev.kernelbridge.internal.foresight.TrendRule.WINDOW == 0) {
            dev.kernelbridge.DeviceTelemetry t;
            try {
                t = spi.telemetry();
            } catch (RuntimeException e) {
                return; // a backend that cannot read its telemetry now says nothing, as NONE would
            }
            if (t.reportsAnything()) {
                health.telemetryWindow(t);
            }
        }
    }

    @Override
    public String toString() { return id; }
}
