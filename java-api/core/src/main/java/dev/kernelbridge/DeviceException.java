package dev.kernelbridge;

/**
 * A device failed to do what it was asked. Carries the device id ("opencl:1") and the native
 * error code and name of the runtime that reported it (CUDA, OpenCL, MPI), so that a scheduler
 * can classify the fault and a person can look it up.
 */
public class DeviceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String deviceId;
    private final long nativeCode;
    private final String nativeName;

    public DeviceException(String deviceId, long nativeCode, String nativeName, String message) {
        this(deviceId, nativeCode, nativeName, message, null);
    }

    public DeviceException(String deviceId, long nativeCode, String nativeName, String message, Throwable cause) {
        super(deviceId + ": " + message + " (" + nativeName + ", code " + nativeCode + ")", cause);
        this.deviceId = deviceId;
        this.nativeCode = nativeCode;
        this.nativeName = nativeName;
    }

    public String deviceId() { return deviceId; }

    public long nativeCode() { return nativeCode; }

    public String nativeName() { return nativeName; }
}
