package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** The device(s) chosen for one operation and why. Hot: disabled unless a recording enables it. */
@Name("dev.kernelbridge.BackendSelected")
@Label("Backend Selected")
@Category("KernelBridge")
@Description("The device(s) chosen for one operation and why.")
@Enabled(false)
@StackTrace(false)
public final class BackendSelectedEvent extends Event {
    @Label("operation") public String operation;
    @Label("policy") public String policy;
    @Label("devices") public String devices;
    @Label("reason") public String reason;
}
