package dev.kernelbridge.cuda;

import dev.kernelbridge.DeviceTelemetry;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import java.util.Set;

/**
 * One GPU's health counters read through NVML, for {@link CudaDevice#telemetry()}. The GPU is found by
 * its PCI bus id (the CUDA ordinal and NVML's index need not agree). NVML is started on the first
 * reading, not before: a program that never asks pays nothing. Readings are kept for a second (the
 * pool asks every 20 launches). Nothing here throws: NVML missing, failing to start or not knowing the
 * bus id leaves every field unknown with the reason in {@code source}, logged once at DEBUG; a reading
 * NVML does not support (NVML_ERROR_NOT_SUPPORTED, a missing function) leaves its field unknown.
 *
 * <ul>
 *   <li>corrected and uncorrected memory errors: nvmlDeviceGetTotalEccErrors, volatile counts (see
 *       {@link Nvml#VOLATILE_ECC}); unknown where ECC is off or absent;</li>
 *   <li>retired pages: nvmlDeviceGetRetiredPages, both causes (GPUs before Ampere retire pages); where
 *       that is not supported, the rows remapped so far (nvmlDeviceGetRemappedRows, Ampere and later);</li>
 *   <li>spare rows left: see {@link #spareRowsLeft};</li>
 *   <li>throttle events: see {@link #newThrottles};</li>
 *   <li>link replays: nvmlDeviceGetPcieReplayCounter;</li>
 *   <li>driver events: XID errors, see {@link #countsAsDriverEvent};</li>
 *   <li>temperature: nvmlDeviceGetTemperature of the die.</li>
 * </ul>
 * Thread-safe: readings are made one at a time.
 */
final class NvmlTelemetry {
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cuda");
    private static final long REFRESH_NANOS = 1_000_000_000L;
    /** Events taken from the queue per reading, so that a storm of them cannot hold a reading up. */
    private static final int EVENTS_PER_READING = 64;
    /**
     * XIDs that NVIDIA's XID catalogue lists as usually caused by the application: 13 (graphics engine
     * exception), 31 (memory page fault), 43 (GPU stopped processing), 45 (pre-emptive clean-up after an
     * earlier error). One program's bad kernel must not count against the GPU; the driver's own faults
     * (ECC, row remapping, fallen off the bus, GSP errors, …) do.
     */
    static final Set<Long> APPLICATION_XIDS = Set.of(13L, 31L, 43L, 45L);

    private final java.util.function.Supplier<Optional<Nvml>> library;
    /** NVML once looked for (on the first reading). */
    private Optional<Nvml> nvml = Optional.empty();
    private final String busId;
    private final String deviceId;
    /** Why nothing can be read (a source for people), or null while NVML may work. */
    private String problem;
    /** started: start() ran; initialised: nvmlInit succeeded (and close owes NVML one nvmlShutdown). */
    private boolean started, initialised, closed;
    private String driverVersion;
    private MemorySegment device = MemorySegment.NULL, events = MemorySegment.NULL;
    private long throttleMask, throttleEvents, driverEvents;
    private DeviceTelemetry last;
    private long readAt;

    /**
     * @param library  finds NVML for this process (empty when it is not on this machine); asked on the first reading
     * @param busId    the GPU's PCI bus id as the CUDA driver gives it ("0000:3b:00.0"), or null when unknown
     * @param deviceId the device's id for the log ("cuda:0")
     */
    NvmlTelemetry(java.util.function.Supplier<Optional<Nvml>> library, String busId, String deviceId) {
        this.library = library;
        this.busId = busId;
        this.deviceId = deviceId;
    }

    /** The reading of at most a second ago, else a new one. Never throws. */
    synchronized DeviceTelemetry read() {
        long now = System.nanoTime();
        if (last != null && now - readAt < REFRESH_NANOS) {
            return last;
        }
        DeviceTelemetry t;
        try {
            t = closed ? unknown("nvml: " + deviceId + " is closed") : start() ? readNow() : unknown(problem);
        } catch (RuntimeException e) { // a binding that misbehaves must not take the pool down
            problem = "nvml: reading failed: " + e; // and no further tries: a binding fault does not go away
            LOG.log(System.Logger.Level.DEBUG, "{0}: no telemetry: {1}", deviceId, problem);
            t = unknown(problem);
        }
        last = t;
        readAt = now;
        return t;
    }

    /** What NVML gives this device, in words: "nvml 550.54.15 (libnvidia-ml.so.1)", or why nothing. For details(). */
    synchronized String describe() {
        if (closed) {
            return "nvml: " + deviceId + " is closed";
        }
        return start() ? "nvml " + driverVersion + " (" + nvml.get().location() + ")" : problem;
    }

    /** Frees the event set and ends this device's use of NVML (NVML counts its starts and shutdowns). */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!events.equals(MemorySegment.NULL) && nvml.get().has("nvmlEventSetFree")) {
                nvml.get().call("nvmlEventSetFree", events);
            }
            if (initialised) {
                nvml.get().call("nvmlShutdown");
            }
        } catch (RuntimeException ignored) {
            // NVML stays started for the process: nothing a caller could do about it
        }
    }

    /** Starts NVML for this device once; true when readings can be made, else {@link #problem} says why. */
    private boolean start() {
        if (started) {
            return problem == null;
        }
        started = true;
        try {
            problem = startProblem();
        } catch (RuntimeException e) {
            problem = "nvml: could not start: " + e;
        }
        if (problem != null) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: no GPU telemetry: {1}", deviceId, problem);
        }
        return problem == null;
    }

    private String startProblem() {
        nvml = library.get();
        if (nvml.isEmpty()) {
            return "nvml: " + Nvml.LIBRARY + " not found";
        }
        Nvml n = nvml.get();
        int r = n.call("nvmlInit_v2");
        if (r != Nvml.SUCCESS) {
            return "nvml: nvmlInit failed: " + n.errorString(r) + " (" + r + ")";
        }
        initialised = true;
        try (Arena a = NativeMemory.confined()) {
            MemorySegment version = a.allocate(Nvml.SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
            r = n.call("nvmlSystemGetDriverVersion", version, Nvml.SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
            driverVersion = r == Nvml.SUCCESS ? version.getString(0) : "?";
            if (busId == null) {
                return "nvml: the CUDA driver gave no PCI bus id for " + deviceId;
            }
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            r = n.call("nvmlDeviceGetHandleByPciBusId_v2", a.allocateFrom(busId), out);
            if (r != Nvml.SUCCESS) {
                return "nvml: no device at PCI bus id " + busId + ": " + n.errorString(r) + " (" + r + ")";
            }
            device = out.get(ValueLayout.ADDRESS, 0);
            events = xidEvents(n, a);
        }
        return null;
    }

    /** An event set with this device's XID errors registered, or NULL where NVML cannot (then driver events stay unknown). */
    private MemorySegment xidEvents(Nvml n, Arena a) {
        if (!n.has("nvmlEventSetCreate") || !n.has("nvmlDeviceRegisterEvents") || !n.has("nvmlEventSetWait_v2")) {
            return MemorySegment.NULL;
        }
        MemorySegment out = a.allocate(ValueLayout.ADDRESS);
        if (n.call("nvmlEventSetCreate", out) != Nvml.SUCCESS) {
            return MemorySegment.NULL;
        }
        MemorySegment set = out.get(ValueLayout.ADDRESS, 0);
        int r = n.call("nvmlDeviceRegisterEvents", device, Nvml.EVENT_TYPE_XID_CRITICAL_ERROR, set);
        if (r != Nvml.SUCCESS) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: no XID events: {1}", deviceId, n.errorString(r));
            if (n.has("nvmlEventSetFree")) {
                n.call("nvmlEventSetFree", set);
            }
            return MemorySegment.NULL;
        }
        return set;
    }

    private DeviceTelemetry readNow() {
        Nvml n = nvml.get();
        try (Arena a = NativeMemory.confined()) {
            MemorySegment u64 = a.allocate(ValueLayout.JAVA_LONG), u32 = a.allocate(ValueLayout.JAVA_INT, 5);
            long corrected = ecc(n, u64, Nvml.MEMORY_ERROR_TYPE_CORRECTED), uncorrected = ecc(n, u64, Nvml.MEMORY_ERROR_TYPE_UNCORRECTED);

            long retired = DeviceTelemetry.UNKNOWN;
            if (n.has("nvmlDeviceGetRetiredPages")) {
                long single = retiredPages(n, u32, u64, Nvml.PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS);
                long dbe = retiredPages(n, u32, u64, Nvml.PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR);
                retired = single < 0 || dbe < 0 ? DeviceTelemetry.UNKNOWN : single + dbe;
            }
            if (retired < 0 && n.has("nvmlDeviceGetRemappedRows")
                    && n.call("nvmlDeviceGetRemappedRows", device, u32, u32.asSlice(4), u32.asSlice(8), u32.asSlice(12)) == Nvml.SUCCESS) {
                retired = unsigned(u32, 0) + unsigned(u32, 1);
            }

            long spare = DeviceTelemetry.UNKNOWN;
            if (n.has("nvmlDeviceGetRowRemapperHistogram") && n.call("nvmlDeviceGetRowRemapperHistogram", device, u32) == Nvml.SUCCESS) {
                spare = spareRowsLeft(unsigned(u32, 0), unsigned(u32, 1), unsigned(u32, 2), unsigned(u32, 3), unsigned(u32, 4));
            }

            long throttles = DeviceTelemetry.UNKNOWN;
            if (n.throttleReasons != null && n.call(n.throttleReasons, device, u64) == Nvml.SUCCESS) {
                long mask = u64.get(ValueLayout.JAVA_LONG, 0);
                throttleEvents += newThrottles(throttleMask, mask);
                throttleMask = mask;
                throttles = throttleEvents;
            }

            long replays = DeviceTelemetry.UNKNOWN;
            if (n.has("nvmlDeviceGetPcieReplayCounter") && n.call("nvmlDeviceGetPcieReplayCounter", device, u32) == Nvml.SUCCESS) {
                replays = unsigned(u32, 0);
            }

            double temperature = Double.NaN;
            if (n.has("nvmlDeviceGetTemperature") && n.call("nvmlDeviceGetTemperature", device, Nvml.TEMPERATURE_GPU, u32) == Nvml.SUCCESS) {
                temperature = unsigned(u32, 0);
            }

            return new DeviceTelemetry(corrected, uncorrected, retired, spare, throttles, replays, pollEvents(n, a), temperature,
                    "nvml " + driverVersion);
        }
    }

    private long ecc(Nvml n, MemorySegment u64, int type) {
        if (!n.has("nvmlDeviceGetTotalEccErrors") || n.call("nvmlDeviceGetTotalEccErrors", device, type, Nvml.VOLATILE_ECC, u64) != Nvml.SUCCESS) {
            return DeviceTelemetry.UNKNOWN;
        }
        return Math.max(DeviceTelemetry.UNKNOWN, u64.get(ValueLayout.JAVA_LONG, 0)); // 2^63 and more: not a count we can trust
    }

    /**
     * How many pages were retired for {@code cause}: asked with room for none, NVML answers with the count
     * (NVML_ERROR_INSUFFICIENT_SIZE when there are some), so no address list is fetched.
     */
    private long retiredPages(Nvml n, MemorySegment count, MemorySegment addresses, int cause) {
        count.set(ValueLayout.JAVA_INT, 0, 0);
        int r = n.call("nvmlDeviceGetRetiredPages", device, cause, count, addresses);
        return r == Nvml.SUCCESS || r == Nvml.ERROR_INSUFFICIENT_SIZE ? unsigned(count, 0) : DeviceTelemetry.UNKNOWN;
    }

    /** XID errors since the first reading: the queue is polled (timeout 0, never waits) and emptied each time. */
    private long pollEvents(Nvml n, Arena a) {
        if (events.equals(MemorySegment.NULL)) {
            return DeviceTelemetry.UNKNOWN;
        }
        MemorySegment data = a.allocate(Nvml.EVENT_DATA_BYTES, 8);
        for (int i = 0; i < EVENTS_PER_READING; i++) {
            if (n.call("nvmlEventSetWait_v2", events, data, 0) != Nvml.SUCCESS) {
                break; // NVML_ERROR_TIMEOUT: nothing (more) queued
            }
            long type = data.get(ValueLayout.JAVA_LONG, Nvml.EVENT_TYPE_OFFSET);
            if ((type & Nvml.EVENT_TYPE_XID_CRITICAL_ERROR) != 0 && countsAsDriverEvent(data.get(ValueLayout.JAVA_LONG, Nvml.EVENT_DATA_OFFSET))) {
                driverEvents++;
            }
        }
        return driverEvents;
    }

    private static long unsigned(MemorySegment ints, int index) {
        return Integer.toUnsignedLong(ints.getAtIndex(ValueLayout.JAVA_INT, index));
    }

    private DeviceTelemetry unknown(String source) {
        return new DeviceTelemetry(DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN,
                DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN, Double.NaN, source);
    }

    // ------------------------------------------------------------------------------------------------
    // The mappings from what NVML gives to the counters of DeviceTelemetry.

    /**
     * Throttle events between two readings of NVML's throttle-reason bitmask. NVML says why the clocks are
     * low now, not how often they were: each reason of {@link Nvml#THROTTLING} that is set now and was not
     * at the reading before counts once (thermal slowdown starting while power-capped is a second event).
     * A throttle that starts and ends between two readings is not seen, so the count is a lower bound.
     */
    static long newThrottles(long before, long now) {
        return Long.bitCount(now & ~before & Nvml.THROTTLING);
    }

    /**
     * Spare rows left, from NVML's row-remapper histogram: how many memory banks have all their reserved
     * rows free (max), most (high), some (partial), few (low) or none. A bad row can only be remapped
     * within its own bank, so whether the GPU can absorb the next bad row is decided by its most used
     * bank, and that is what this reports: a lower bound on the spare rows of the worst bank, from its
     * class, since NVML gives classes, not counts: none → 0, low → 1, partial → 2, high → 3, max → 4 (each
     * class holds at least one row more than the one below it). 0 or 1 means the next bad row may find no
     * spare; unknown when the histogram has no banks.
     */
    static long spareRowsLeft(long max, long high, long partial, long low, long none) {
        if (none > 0) {
            return 0;
        }
        if (low > 0) {
            return 1;
        }
        if (partial > 0) {
            return 2;
        }
        if (high > 0) {
            return 3;
        }
        return max > 0 ? 4 : DeviceTelemetry.UNKNOWN;
    }

    /** Whether an XID (NVML's eventData) counts as a driver event: all but {@link #APPLICATION_XIDS}. */
    static boolean countsAsDriverEvent(long xid) {
        return !APPLICATION_XIDS.contains(xid);
    }
}
