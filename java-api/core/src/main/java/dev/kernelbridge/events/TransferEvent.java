package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A copy between host and device memory made by the scheduler. Hot: disabled unless a recording enables it. */
@Name("dev.kernelbridge.Transfer")
@Label("Transfer")
@Category("KernelBridge")
@Description("A copy between host and device memory made by the scheduler.")
@Enabled(false)
@StackTrace(false)
public final class TransferEvent extends Event {
    @Label("device") public String device;
    @Label("direction") public String direction;
    @Label("bytes") public long bytes;
}
