package dev.kernelbridge.opencl;

import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import java.util.Map;

/** OpenCL status codes as names, and as the typed exceptions of the API. */
final class ClErrors {
    static final int CL_SUCCESS = 0;
    static final int CL_DEVICE_NOT_AVAILABLE = -2;
    static final int CL_MEM_OBJECT_ALLOCATION_FAILURE = -4;
    static final int CL_OUT_OF_RESOURCES = -5;
    static final int CL_OUT_OF_HOST_MEMORY = -6;
    static final int CL_BUILD_PROGRAM_FAILURE = -11;
    static final int CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST = -14;
    static final int CL_INVALID_BUFFER_SIZE = -61;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(0, "CL_SUCCESS"), Map.entry(-1, "CL_DEVICE_NOT_FOUND"), Map.entry(-2, "CL_DEVICE_NOT_AVAILABLE"),
            Map.entry(-3, "CL_COMPILER_NOT_AVAILABLE"), Map.entry(-4, "CL_MEM_OBJECT_ALLOCATION_FAILURE"),
            Map.entry(-5, "CL_OUT_OF_RESOURCES"), Map.entry(-6, "CL_OUT_OF_HOST_MEMORY"),
            Map.entry(-7, "CL_PROFILING_INFO_NOT_AVAILABLE"), Map.entry(-8, "CL_MEM_COPY_OVERLAP"),
            Map.entry(-11, "CL_BUILD_PROGRAM_FAILURE"), Map.entry(-12, "CL_MAP_FAILURE"),
            Map.entry(-14, "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"), Map.entry(-30, "CL_INVALID_VALUE"),
            Map.entry(-32, "CL_INVALID_PLATFORM"), Map.entry(-33, "CL_INVALID_DEVICE"), Map.entry(-34, "CL_INVALID_CONTEXT"),
            Map.entry(-36, "CL_INVALID_COMMAND_QUEUE"), Map.entry(-38, "CL_INVALID_MEM_OBJECT"),
            Map.entry(-42, "CL_INVALID_BINARY"), Map.entry(-43, "CL_INVALID_BUILD_OPTIONS"),
            Map.entry(-44, "CL_INVALID_PROGRAM"), Map.entry(-45, "CL_INVALID_PROGRAM_EXECUTABLE"),
            Map.entry(-46, "CL_INVALID_KERNEL_NAME"), Map.entry(-48, "CL_INVALID_KERNEL"),
            Map.entry(-49, "CL_INVALID_ARG_INDEX"), Map.entry(-50, "CL_INVALID_ARG_VALUE"),
            Map.entry(-51, "CL_INVALID_ARG_SIZE"), Map.entry(-52, "CL_INVALID_KERNEL_ARGS"),
            Map.entry(-53, "CL_INVALID_WORK_DIMENSION"), Map.entry(-54, "CL_INVALID_WORK_GROUP_SIZE"),
            Map.entry(-55, "CL_INVALID_WORK_ITEM_SIZE"), Map.entry(-56, "CL_INVALID_GLOBAL_OFFSET"),
            Map.entry(-58, "CL_INVALID_EVENT"), Map.entry(-59, "CL_INVALID_OPERATION"),
            Map.entry(-61, "CL_INVALID_BUFFER_SIZE"), Map.entry(-63, "CL_INVALID_GLOBAL_WORK_SIZE"),
            Map.entry(-1001, "CL_PLATFORM_NOT_FOUND_KHR"));

    private ClErrors() { }

    static String name(int code) {
        return NAMES.getOrDefault(code, "OpenCL error " + code);
    }

    /** Throws the typed exception for a failed OpenCL call; returns quietly on CL_SUCCESS. */
    static void check(int code, String deviceId, String what) {
        if (code != CL_SUCCESS) {
            throw exception(code, deviceId, what);
        }
    }

    static DeviceException exception(int code, String deviceId, String what) {
        String message = what + " failed";
        return switch (code) {
            case CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_HOST_MEMORY, CL_INVALID_BUFFER_SIZE ->
                    new DeviceOutOfMemoryException(deviceId, code, name(code), message);
            case CL_DEVICE_NOT_AVAILABLE -> new DeviceLostException(deviceId, code, name(code), message, null);
            default -> new DeviceException(deviceId, code, name(code), message);
        };
    }
}
