package dev.kernelbridge;

import java.util.Objects;

/**
 * What a device reports about its own condition, read through its backend: the signs that come
 * before a failure. Counters are cumulative since the device (or the driver) started; a field the
 * device cannot report is {@link #UNKNOWN} (-1, or NaN for the temperature), never a guess.
 *
 * <ul>
 *   <li>{@code correctedMemoryErrors}, {@code uncorrectedMemoryErrors}: ECC (GPU memory; on the CPU,
 *       the memory controllers' EDAC counts);</li>
 *   <li>{@code retiredPages}, {@code spareRowsLeft}: memory already taken out of service, and the spare
 *       rows a GPU with row remapping has left;</li>
 *   <li>{@code throttleEvents}: times the device slowed itself (thermal or power limits);</li>
 *   <li>{@code linkReplays}: bus packets sent again (PCIe replays);</li>
 *   <li>{@code driverEvents}: errors the driver reported on its own (NVIDIA's XID events);</li>
 *   <li>{@code temperatureCelsius}: now, NaN where unknown;</li>
 *   <li>{@code source}: where the figures come from ("linux sysfs", "nvml", "fault plan"), for people.</li>
 * </ul>
 * Version 1 of the record; later versions add fields with UNKNOWN defaults.
 */
public record DeviceTelemetry(long correctedMemoryErrors, long uncorrectedMemoryErrors, long retiredPages, long spareRowsLeft,
                              long throttleEvents, long linkReplays, long driverEvents, double temperatureCelsius, String source) {
    public static final long UNKNOWN = -1;

    /** Nothing known: what a backend without telemetry reports. */
    public static final DeviceTelemetry NONE = new DeviceTelemetry(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, Double.NaN, "none");

    public DeviceTelemetry {
        Objects.requireNonNull(source, "source");
        correctedMemoryErrors = known(correctedMemoryErrors);
        uncorrectedMemoryErrors = known(uncorrectedMemoryErrors);
        retiredPages = known(retiredPages);
        spareRowsLeft = known(spareRowsLeft);
        throttleEvents = known(throttleEvents);
        linkReplays = known(linkReplays);
        driverEvents = known(driverEvents);
    }

    private static long known(long v) {
        return v < 0 ? UNKNOWN : v;
    }

    /** True when the device reported at least one field. */
    public boolean reportsAnything() {
        return correctedMemoryErrors >= 0 || uncorrectedMemoryErrors >= 0 || retiredPages >= 0 || spareRowsLeft >= 0
                || throttleEvents >= 0 || linkReplays >= 0 || driverEvents >= 0 || !Double.isNaN(temperatureCelsius);
    }
}
