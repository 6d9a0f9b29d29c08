package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A rule that looks ahead acted on a device before it failed: a drain or a rebalance, and why. */
@Name("dev.kernelbridge.Foresight")
@Label("Foresight")
@Category("KernelBridge")
@Description("A rule that looks ahead (telemetry trend, fail-slow) drained or rebalanced a device before it failed.")
@Enabled(true)
public final class ForesightEvent extends Event {
    @Label("device") public String device;
    @Label("rule") public String rule;
    @Label("action") public String action;
    @Label("reason") public String reason;
}
