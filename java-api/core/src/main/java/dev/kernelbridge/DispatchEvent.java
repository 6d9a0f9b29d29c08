package dev.kernelbridge;

import java.time.Duration;

/**
 * Something the scheduler did that a user should see: never a silent fallback. Delivered to
 * {@link KernelBridge#subscribe} listeners, logged, and recorded as a JFR event
 * ({@code dev.kernelbridge.*}).
 */
public sealed interface DispatchEvent {
    /** Work that failed on {@code from} is re-run on {@code to}; {@code part} says which rows, columns or batch items. */
    record Failover(String operation, String part, String from, String to, String reason, Duration failedAttempt) implements DispatchEvent { }

    /** A device changed health state. */
    record HealthChange(String device, HealthState from, HealthState to, String reason) implements DispatchEvent { }

    /** A result canary found {@code device}'s result different from {@code checkedOn}'s beyond the dtype's tolerance. */
    record CanaryMismatch(String device, String checkedOn, String detail) implements DispatchEvent { }

    /**
     * A rule that looks ahead fired on {@code device} before anything failed: {@code rule} is "trend"
     * (telemetry), "fail-slow" or "workload"; {@code action} is "drain" (it takes no new work),
     * "rebalance" (it keeps a share that follows its speed) or "warn" (nothing could be done). A drain
     * is the moment to checkpoint: the device may fail soon.
     */
    record Foresight(String device, String rule, String action, String why) implements DispatchEvent { }
}
