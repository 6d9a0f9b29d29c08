package dev.kernelbridge;

/** An allocation did not fit. Not sticky: the device stays usable for smaller work. */
public class DeviceOutOfMemoryException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceOutOfMemoryException(String deviceId, long nativeCode, String nativeName, String message) {
        super(deviceId, nativeCode, nativeName, message);
    }
}
