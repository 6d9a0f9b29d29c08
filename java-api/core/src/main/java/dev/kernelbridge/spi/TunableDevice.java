package dev.kernelbridge.spi;

import dev.kernelbridge.TuningReport;
import java.time.Duration;

/**
 * Optional for a {@link BackendDevice} whose kernels have parameters to search: searches them
 * within {@code budget}, verifies every candidate's result before timing it, and stores the best
 * in the user's tuning database (never in a plain run). Called on one thread at a time per device.
 */
public interface TunableDevice {
    TuningReport tune(Duration budget, TuningReport.Listener listener);
}
