package dev.kernelbridge.events;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** Kernel parameters looked up in the tuning database. */
@Name("dev.kernelbridge.TuningLookup")
@Label("Tuning Lookup")
@Category("KernelBridge")
@Description("Kernel parameters looked up in the tuning database.")
@Enabled(true)
public final class TuningLookupEvent extends Event {
    @Label("device") public String device;
    @Label("kernel") public String kernel;
    @Label("dtype") public String dtype;
    @Label("level") public String level;
    @Label("parameters") public String parameters;
}
