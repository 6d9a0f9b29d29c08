package dev.kernelbridge.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * NVML, NVIDIA's management library ({@code libnvidia-ml.so.1}, part of the driver), through FFM: the
 * GPU's own health counters for {@link NvmlTelemetry}. {@link #FUNCTIONS} is what every NVML since
 * 2013 exports (the library is not used without them); {@link #OPTIONAL} is bound where the loaded
 * library has it, and a reading whose function is missing stays unknown. Both tables are checked
 * against nvml.h where installed (or fetched by ci/setup), else against the checked-in prototypes.
 * The constants below are nvml.h's, checked by the same test.
 */
final class Nvml {
    private static final java.lang.foreign.MemoryLayout P = NativeFunction.P, I = NativeFunction.I, L = NativeFunction.L;

    /** nvmlReturn_t. */
    static final int SUCCESS = 0, ERROR_NOT_SUPPORTED = 3, ERROR_INSUFFICIENT_SIZE = 7, ERROR_TIMEOUT = 10;
    /** nvmlMemoryErrorType_t. */
    static final int MEMORY_ERROR_TYPE_CORRECTED = 0, MEMORY_ERROR_TYPE_UNCORRECTED = 1;
    /**
     * nvmlEccCounterType_t. We read the volatile counts: they start when the driver loads, and the driver
     * stays loaded while this process holds a context, so they only grow while we watch. The rules look
     * at growth between readings, so the lifetime (aggregate) count would add only history, and it is
     * what {@code nvidia-smi -q -d ECC} shows as "Volatile", which is what a person compares with.
     */
    static final int VOLATILE_ECC = 0, AGGREGATE_ECC = 1;
    /** nvmlTemperatureSensors_t: the GPU die. */
    static final int TEMPERATURE_GPU = 0;
    /** nvmlPageRetirementCause_t: pages retired for repeated single-bit errors, and for a double-bit error. */
    static final int PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS = 0, PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR = 1;
    /** The event type of XID errors (nvmlEventTypeXidCriticalError, a #define). */
    static final long EVENT_TYPE_XID_CRITICAL_ERROR = 0x8L;

    /** Throttle reasons (nvmlClocksThrottleReason*, #defines; newer headers spell them nvmlClocksEventReason*). */
    static final long THROTTLE_GPU_IDLE = 0x1L, THROTTLE_APPLICATIONS_CLOCKS_SETTING = 0x2L, THROTTLE_SW_POWER_CAP = 0x4L,
            THROTTLE_HW_SLOWDOWN = 0x8L, THROTTLE_SYNC_BOOST = 0x10L, THROTTLE_SW_THERMAL_SLOWDOWN = 0x20L,
            THROTTLE_HW_THERMAL_SLOWDOWN = 0x40L, THROTTLE_HW_POWER_BRAKE_SLOWDOWN = 0x80L, THROTTLE_DISPLAY_CLOCK_SETTING = 0x100L;
    /**
     * The reasons that count as the GPU slowing itself: power and thermal limits and the board's slowdown
     * signals. Idle, clocks a person set (application or display clocks) and sync boost (clocks matched to
     * other GPUs of a group) are choices, not distress, and are not counted.
     */
    static final long THROTTLING = THROTTLE_SW_POWER_CAP | THROTTLE_HW_SLOWDOWN | THROTTLE_SW_THERMAL_SLOWDOWN
            | THROTTLE_HW_THERMAL_SLOWDOWN | THROTTLE_HW_POWER_BRAKE_SLOWDOWN;

    /** Buffer sizes nvml.h guarantees to be enough (NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE). */
    static final int SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80, DEVICE_PCI_BUS_ID_BUFFER_SIZE = 32;

    /**
     * Every NVML call returns nvmlReturn_t (an int) except nvmlErrorString. The versioned names are bound
     * as nvml.h declares them (its #defines map nvmlInit to nvmlInit_v2 and so on).
     */
    static final Map<String, NativeFunction> FUNCTIONS = NativeFunction.table(
            NativeFunction.of("nvmlInit_v2", I),
            NativeFunction.of("nvmlShutdown", I),
            NativeFunction.of("nvmlErrorString", P, I),
            NativeFunction.of("nvmlSystemGetDriverVersion", I, P, I),         // char *version, unsigned int length
            NativeFunction.of("nvmlDeviceGetHandleByPciBusId_v2", I, P, P));  // const char *pciBusId, nvmlDevice_t *device

    /** One per reading; any may be missing from an old or trimmed library, then its field stays unknown. */
    static final Map<String, NativeFunction> OPTIONAL = NativeFunction.table(
            // device, nvmlMemoryErrorType_t, nvmlEccCounterType_t, unsigned long long *eccCounts
            NativeFunction.of("nvmlDeviceGetTotalEccErrors", I, P, I, I, P),
            // device, nvmlPageRetirementCause_t, unsigned int *pageCount, unsigned long long *addresses
            NativeFunction.of("nvmlDeviceGetRetiredPages", I, P, I, P, P),
            // device, unsigned int *corrRows, *uncRows, *isPending, *failureOccurred
            NativeFunction.of("nvmlDeviceGetRemappedRows", I, P, P, P, P, P),
            // device, nvmlRowRemapperHistogramValues_t *values (five unsigned ints)
            NativeFunction.of("nvmlDeviceGetRowRemapperHistogram", I, P, P),
            // device, unsigned long long *clocksThrottleReasons
            NativeFunction.of("nvmlDeviceGetCurrentClocksThrottleReasons", I, P, P),
            NativeFunction.of("nvmlDeviceGetPcieReplayCounter", I, P, P),    // device, unsigned int *value
            NativeFunction.of("nvmlDeviceGetTemperature", I, P, I, P),       // device, nvmlTemperatureSensors_t, unsigned int *temp
            NativeFunction.of("nvmlEventSetCreate", I, P),                   // nvmlEventSet_t *set
            NativeFunction.of("nvmlDeviceRegisterEvents", I, P, L, P),       // device, unsigned long long eventTypes, set
            NativeFunction.of("nvmlEventSetWait_v2", I, P, P, I),            // set, nvmlEventData_t *data, unsigned int timeoutms
            NativeFunction.of("nvmlEventSetFree", I, P));

    /**
     * The throttle reasons under the name newer nvml.h headers give them (R535 and later); bound only when a
     * driver no longer exports the old name. Same arguments.
     */
    static final Map<String, NativeFunction> RENAMED = NativeFunction.table(
            NativeFunction.of("nvmlDeviceGetCurrentClocksEventReasons", I, P, P));

    static final String LIBRARY = "libnvidia-ml.so.1";

    /** Bytes for one nvmlEventData_t: 32 on LP64 today (device, type, data, two instance ids), room for more. */
    static final long EVENT_DATA_BYTES = 64;
    /** Offset of eventType and eventData in nvmlEventData_t (after the device handle). */
    static final long EVENT_TYPE_OFFSET = 8, EVENT_DATA_OFFSET = 16;

    private final NativeLibrary lib;
    /** The throttle-reasons function under whichever name the library has, or null. */
    final String throttleReasons;

    private Nvml(NativeLibrary lib) {
        this.lib = lib;
        for (NativeFunction f : OPTIONAL.values()) {
            lib.bindOptional(f);
        }
        String reasons = null;
        if (lib.bindOptional(OPTIONAL.get("nvmlDeviceGetCurrentClocksThrottleReasons"))) {
            reasons = "nvmlDeviceGetCurrentClocksThrottleReasons";
        } else if (lib.bindOptional(RENAMED.get("nvmlDeviceGetCurrentClocksEventReasons"))) {
            reasons = "nvmlDeviceGetCurrentClocksEventReasons";
        }
        this.throttleReasons = reasons;
    }

    /** Where it was loaded from (a path, or the soname the loader resolved). */
    String location() {
        return lib.name;
    }

    /** True when the library has {@code function} (bound by its declared name). */
    boolean has(String function) {
        try {
            lib.handle(function);
            return true;
        } catch (IllegalArgumentException missing) {
            return false;
        }
    }

    /** Calls {@code function}; its nvmlReturn_t. */
    int call(String function, Object... args) {
        return lib.call(function, args);
    }

    /** NVML's own words for {@code status} ("Not Supported"), or the number. */
    String errorString(int status) {
        return lib.text("nvmlErrorString", status, "NVML error " + status);
    }

    /**
     * NVML for this process, looked for once: first beside the CUDA driver that {@code driverLibrary} names
     * (NVML ships with the driver, in the same folder, so the folder ci/lib/gpu-run found for libcuda.so.1
     * has it too), then by soname on the loader's path. Empty when neither loads.
     */
    static synchronized Optional<Nvml> shared(String driverLibrary) {
        if (shared == null) {
            shared = load(candidates(driverLibrary));
        }
        return shared;
    }

    private static Optional<Nvml> shared;

    /** The first of {@code names} that loads with every function of {@link #FUNCTIONS}; empty when none does. */
    static Optional<Nvml> load(List<String> names) {
        try {
            return NativeLibrary.loadFirst(names, FUNCTIONS).map(Nvml::new);
        } catch (RuntimeException unusable) { // e.g. native access refused: no telemetry, never a failure
            return Optional.empty();
        }
    }

    /** {@link #LIBRARY} in the folder of {@code driverLibrary} when that is a path to a file, then the bare soname. */
    static List<String> candidates(String driverLibrary) {
        List<String> out = new ArrayList<>();
        if (driverLibrary != null && driverLibrary.contains("/")) {
            Path beside = Path.of(driverLibrary).toAbsolutePath().resolveSibling(LIBRARY);
            if (Files.exists(beside)) {
                out.add(beside.toString());
            }
        }
        out.add(LIBRARY);
        return out;
    }
}
