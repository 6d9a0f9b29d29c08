package dev.kernelbridge;

/**
 * A device did not finish an operation before its deadline. The device is quarantined until it passes
 * a probe; a late result is discarded and never reaches the caller's memory.
 */
public class DeviceTimeoutException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceTimeoutException(String deviceId, String message) {
        super(deviceId, -1, "DEADLINE_EXCEEDED", message);
    }
}
