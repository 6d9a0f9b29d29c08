package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.spi.BackendDevice;
import java.util.concurrent.atomic.AtomicInteger;

/** A device as the scheduler sees it. {@code trusted}: the built-in CPU (runs inline, cannot hang). */
/** A device as the scheduler sees it. {@code trusted}: the built-in CPU (runs inline, cannot hang). */
final class Node {
    final String id;
    final BackendDevice spi;
    final boolean trusted;
    final boolean cpu;
    final Health health;
    /** Launches running on the device now: a launch that shared it does not measure its throughput. */
    final AtomicInteger busy = new AtomicInteger();

    Node(String id, BackendDevice spi, boolean trusted, boolean cpu, Health health) {
        this.id = id;
        this.spi = spi;
        this.trusted = trusted;
        this.cpu = cpu;
        this.health = health;
    }

    @Override
    public String toString() { return id; }
}
