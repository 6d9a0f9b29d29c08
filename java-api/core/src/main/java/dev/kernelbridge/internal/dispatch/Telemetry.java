package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.events.CanaryMismatchEvent;
import dev.kernelbridge.events.DeviceHealthChangeEvent;
import dev.kernelbridge.events.FailoverEvent;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Where the scheduler says what it did: a log line, a JFR event and the subscribers, for every
 * failover, health change and canary mismatch; plus the totals of the metrics snapshot.
 * Subscribers are called in order on one thread of their own, never under a scheduler lock.
 */
public final class Telemetry implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.dispatch");

    private final List<Consumer<DispatchEvent>> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService delivery = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "kernelbridge-events");
        t.setDaemon(true);
        return t;
    });
    final AtomicLong operations = new AtomicLong();
    final AtomicLong splits = new AtomicLong();
    final AtomicLong failovers = new AtomicLong();
    final AtomicLong canaryChecks = new AtomicLong();
    final AtomicLong canaryMismatches = new AtomicLong();
    /** Devices out of service whose work has been rerouted (and said so) since they left service. */
    private final java.util.Set<String> reroutedFrom = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The scheduler's hook, told at once (under the device's health lock) when a device leaves service (false) or returns (true). */
    private volatile java.util.function.BiConsumer<String, Boolean> serviceChanged = (device, inService) -> { };

    void onServiceChange(java.util.function.BiConsumer<String, Boolean> hook) {
        serviceChanged = hook;
    }

    public AutoCloseable subscribe(Consumer<DispatchEvent> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    void healthChanged(String device, HealthState from, HealthState to, String reason) {
        if (to.dispatchable()) {
            reroutedFrom.remove(device);
        }
        // A person acts on a device taken out of service; its return closes that warning. A device that
        // stays in service (HEALTHY <-> DEGRADED) is dispatch's own business.
        Level level = !to.dispatchable() ? Level.WARNING : from.dispatchable() ? Level.DEBUG : Level.INFO;
        LOG.log(level, "{0}: {1} -> {2}: {3}", device, from, to, reason);
        DeviceHealthChangeEvent e = new DeviceHealthChangeEvent();
        if (e.shouldCommit()) {
            e.device = device;
            e.from = from.name();
            e.to = to.name();
            e.reason = reason;
            e.commit();
        }
        publish(new DispatchEvent.HealthChange(device, from, to, reason));
        if (from.dispatchable() != to.dispatchable()) {
            serviceChanged.accept(device, to.dispatchable());
        }
    }

    /**
     * A rule that looks ahead fired on a device: {@code rule} (trend, fail-slow, workload, spare),
     * {@code action} (drain, rebalance, warn, activate, standby), and why, as a JFR event. A drain's
     * WARNING line is its health change (to QUARANTINED, "drained, ..."); a rebalance or a warning has
     * no health change, so it warns here: either way one line tells a person that a device is going bad
     * before it fails. A spare taking a device's place is good news (INFO); its return to standby, DEBUG.
     */
    void foresight(String device, String rule, String action, String why) {
        foresight(device, rule, action, why, false);
    }

    /** As above; {@code again}: the same finding as before on the same devices, said at DEBUG (a person was told once). */
    void foresight(String device, String rule, String action, String why, boolean again) {
        Level level = again ? Level.DEBUG : switch (action) {
            case "drain", "standby" -> Level.DEBUG;
            case "activate" -> Level.INFO;
            default -> Level.WARNING;
        };
        LOG.log(level, "{0}: {1} ({2}): {3}", device, action, rule, why);
        dev.kernelbridge.events.ForesightEvent e = new dev.kernelbridge.events.ForesightEvent();
        if (e.shouldCommit()) {
            e.device = device;
            e.rule = rule;
            e.action = action;
            e.reason = why;
            e.commit();
        }
        publish(new DispatchEvent.Foresight(device, rule, action, why));
    }

    void failover(String operation, String part, String from, String to, String reason, long failedNanos) {
        failover(operation, part, from, to, reason, failedNanos, Level.WARNING);
    }

    /**
     * Work for a pinned device that is out of service, sent elsewhere: an event and a count every time,
     * but a WARNING only for the first call of each outage (its quarantine already warned); DEBUG after.
     */
    void rerouted(String operation, String from, String to, String reason) {
        boolean first = reroutedFrom.add(from);
        failover(operation, "whole", from, to, reason, 0, first ? Level.WARNING : Level.DEBUG);
    }

    private void failover(String operation, String part, String from, String to, String reason, long failedNanos, Level level) {
        failovers.incrementAndGet();
        LOG.log(level, "{0} ({1}) failed on {2}: {3}; re-running on {4}", operation, part, from, reason, to);
        FailoverEvent e = new FailoverEvent();
        if (e.shouldCommit()) {
            e.operation = operation;
            e.part = part;
            e.from = from;
            e.to = to;
            e.reason = reason;
            e.failedAttemptNanos = failedNanos;
            e.commit();
        }
        publish(new DispatchEvent.Failover(operation, part, from, to, reason, Duration.ofNanos(failedNanos)));
    }

    void canaryMismatch(String device, String checkedOn, String detail) {
        canaryMismatches.incrementAndGet();
        LOG.log(Level.WARNING, "result canary: {0} disagrees with {1}: {2}", device, checkedOn, detail);
        CanaryMismatchEvent e = new CanaryMismatchEvent();
        if (e.shouldCommit()) {
            e.device = device;
            e.checkedOn = checkedOn;
            e.detail = detail;
            e.commit();
        }
        publish(new DispatchEvent.CanaryMismatch(device, checkedOn, detail));
    }

    private void publish(DispatchEvent event) {
        if (listeners.isEmpty()) {
            return;
        }
        try {
            delivery.execute(() -> {
                for (Consumer<DispatchEvent> l : listeners) {
                    try {
                        l.accept(event);
                    } catch (RuntimeException e) {
                        LOG.log(Level.WARNING, "a dispatch event listener threw; continuing", e);
                    }
                }
            });
        } catch (RejectedExecutionException closed) {
            // the bridge is closing: nobody is left to tell
        }
    }

    @Override
    public void close() {
        delivery.shutdown();
    }
}
