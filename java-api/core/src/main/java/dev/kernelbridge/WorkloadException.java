package dev.kernelbridge;

import java.util.List;

/**
 * The same work failed on devices unlike each other (another backend or another model) in the same
 * way: the work is to blame — a poisoned input, a shape no runtime can launch — not the devices, so
 * none of them was taken out of service, and it was not tried further. {@link #devices()} names them
 * in the order they failed; the last failure is the cause, the earlier ones are suppressed.
 */
public class WorkloadException extends DeviceException {
    private static final long serialVersionUID = 1L;

    private final List<String> devices;

    public WorkloadException(List<String> devices, DeviceException last, String message) {
        super(String.join(",", devices), last.nativeCode(), last.nativeName(), message, last);
        this.devices = List.copyOf(devices);
    }

    /** The devices that failed the work alike, in the order they failed. */
    public List<String> devices() { return devices; }
}
