package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One GEMM launch on a device, from submission to completion. Hot: disabled unless a recording enables it. */
@Name("dev.kernelbridge.KernelLaunch")
@Label("Kernel Launch")
@Category("KernelBridge")
@Description("One GEMM launch on a device, from submission to completion.")
@Enabled(false)
@StackTrace(false)
public final class KernelLaunchEvent extends Event {
    @Label("device") public String device;
    @Label("dtype") public String dtype;
    @Label("m") public long m;
    @Label("n") public long n;
    @Label("k") public long k;
    @Label("batch") public long batch;
    @Label("success") public boolean success;
}
