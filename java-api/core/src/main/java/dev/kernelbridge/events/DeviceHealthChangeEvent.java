package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A device changed health state. */
@Name("dev.kernelbridge.DeviceHealthChange")
@Label("Device Health Change")
@Category("KernelBridge")
@Description("A device changed health state.")
@Enabled(true)
public final class DeviceHealthChangeEvent extends Event {
    @Label("device") public String device;
    @Label("from") public String from;
    @Label("to") public String to;
    @Label("reason") public String reason;
}
