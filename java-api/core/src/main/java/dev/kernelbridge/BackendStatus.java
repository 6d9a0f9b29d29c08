package dev.kernelbridge;

/**
 * What became of one backend found on the class path: opened, skipped with its cause, or not
 * selected. {@code detail} is the probe's own words (for a usable backend, how it runs); {@code fix}
 * is the command that makes an unavailable backend available, empty when the backend does not know one.
 */
public record BackendStatus(String name, int priority, State state, String detail, String fix) {
    public enum State { OPENED, UNAVAILABLE, NOT_SELECTED, FAILED }

    public BackendStatus(String name, int priority, State state, String detail) {
        this(name, priority, state, detail, "");
    }
}
