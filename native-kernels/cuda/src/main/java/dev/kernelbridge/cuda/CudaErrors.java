package dev.kernelbridge.cuda;

import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import java.util.Map;
import java.util.Set;

/**
 * What a CUresult means for the device. Sticky errors corrupt the context: every later call on it
 * fails, so the device is marked poisoned and reported lost (recovery needs a new process). Out of
 * memory is not sticky. The values are cuda.h's; a test checks them against the installed header.
 */
final class CudaErrors {
    static final int CUDA_SUCCESS = 0;
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    /** The PTX was made by a newer toolkit than this driver understands: load a cubin or compile with NVRTC instead. */
    static final int CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222;
    static final int CUDA_ERROR_INVALID_IMAGE = 200, CUDA_ERROR_NO_BINARY_FOR_GPU = 209, CUDA_ERROR_INVALID_PTX = 218;

    /** The codes this class names, by cuda.h's enumerator name. */
    static final Map<String, Integer> CODES = Map.ofEntries(
            Map.entry("CUDA_ERROR_OUT_OF_MEMORY", CUDA_ERROR_OUT_OF_MEMORY),
            Map.entry("CUDA_ERROR_NO_DEVICE", 100),
            Map.entry("CUDA_ERROR_ECC_UNCORRECTABLE", 214),
            Map.entry("CUDA_ERROR_ILLEGAL_ADDRESS", 700),
            Map.entry("CUDA_ERROR_LAUNCH_TIMEOUT", 702),
            Map.entry("CUDA_ERROR_HARDWARE_STACK_ERROR", 714),
            Map.entry("CUDA_ERROR_ILLEGAL_INSTRUCTION", 715),
            Map.entry("CUDA_ERROR_MISALIGNED_ADDRESS", 716),
            Map.entry("CUDA_ERROR_INVALID_ADDRESS_SPACE", 717),
            Map.entry("CUDA_ERROR_INVALID_PC", 718),
            Map.entry("CUDA_ERROR_LAUNCH_FAILED", 719),
            Map.entry("CUDA_ERROR_DEVICE_UNAVAILABLE", 46),
            Map.entry("CUDA_ERROR_NOT_INITIALIZED", 3),
            Map.entry("CUDA_ERROR_DEINITIALIZED", 4),
            Map.entry("CUDA_ERROR_NVLINK_UNCORRECTABLE", 220),
            Map.entry("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CUDA_ERROR_UNSUPPORTED_PTX_VERSION),
            Map.entry("CUDA_ERROR_ASSERT", 710),
            Map.entry("CUDA_ERROR_INVALID_IMAGE", CUDA_ERROR_INVALID_IMAGE),
            Map.entry("CUDA_ERROR_NO_BINARY_FOR_GPU", CUDA_ERROR_NO_BINARY_FOR_GPU),
            Map.entry("CUDA_ERROR_INVALID_PTX", CUDA_ERROR_INVALID_PTX),
            Map.entry("CUDA_ERROR_UNKNOWN", 999));

    /**
     * Faults after which the context is unusable (CUDA programming guide: "sticky" errors: a device-side
     * assert, an illegal access, a failed launch, uncorrectable ECC or NVLink errors), the device is gone,
     * or the driver cannot say what happened (UNKNOWN: assume the worst).
     */
    private static final Set<Integer> STICKY = Set.of(214, 220, 700, 702, 710, 714, 715, 716, 717, 718, 719, 46, 4, 999);

    private CudaErrors() { }

    static boolean sticky(int code) {
        return STICKY.contains(code);
    }

    /** The exception for a failed driver call: lost for sticky codes, out-of-memory for OOM, else a device error. */
    static DeviceException exception(String device, String call, int code, String name, String description) {
        String message = call + " failed: " + description;
        if (sticky(code)) {
            return new DeviceLostException(device, code, name, message + "; the CUDA context is poisoned, the device is out of service"
                    + " for this process", null);
        }
        if (code == CUDA_ERROR_OUT_OF_MEMORY) {
            return new DeviceOutOfMemoryException(device, code, name, message);
        }
        return new DeviceException(device, code, name, message);
    }
}
