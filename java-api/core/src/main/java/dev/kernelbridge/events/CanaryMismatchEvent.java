package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A result canary disagreed with a second device. */
@Name("dev.kernelbridge.CanaryMismatch")
@Label("Canary Mismatch")
@Category("KernelBridge")
@Description("A result canary disagreed with a second device.")
@Enabled(true)
public final class CanaryMismatchEvent extends Event {
    @Label("device") public String device;
    @Label("checkedOn") public String checkedOn;
    @Label("detail") public String detail;
}
