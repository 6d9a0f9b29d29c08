package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Work re-run on another device after a failure. */
@Name("dev.kernelbridge.Failover")
@Label("Failover")
@Category("KernelBridge")
@Description("Work re-run on another device after a failure.")
@Enabled(true)
public final class FailoverEvent extends Event {
    @Label("operation") public String operation;
    @Label("part") public String part;
    @Label("from") public String from;
    @Label("to") public String to;
    @Label("reason") public String reason;
    @Label("failedAttemptNanos") public long failedAttemptNanos;
}
