package dev.kernelbridge;

/**
 * What became of one backend found on the class path: opened, skipped with its cause, or not
 * selected. {@code detail} is the probe's own words (for a usable backend, how it runs).
 */
public record BackendStatus(String name, int priority, State state, String detail) {
    public enum State { OPENED, UNAVAILABLE, NOT_SELECTED, FAILED }
}
