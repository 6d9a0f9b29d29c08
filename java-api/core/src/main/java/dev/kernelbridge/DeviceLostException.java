package dev.kernelbridge;

/**
 * The device is gone or its context is poisoned (a sticky fault such as an illegal address).
 * Every later operation on it fails fast with this exception; it never comes back in this process.
 */
public class DeviceLostException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public DeviceLostException(String deviceId, long nativeCode, String nativeName, String message, Throwable cause) {
        super(deviceId, nativeCode, nativeName, message, cause);
    }
}
