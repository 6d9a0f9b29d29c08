package dev.kernelbridge.spi;

import java.util.Objects;

/**
 * Result of an availability probe: usable, or not with a cause a person can act on and, where the
 * backend knows it, the exact command that adds what is missing ({@code fix}, empty when unknown).
 * The CLI prints both after its device table; {@code doctor} repeats them.
 */
public record Availability(boolean available, String cause, String fix) {
    public Availability {
        Objects.requireNonNull(cause, "cause");
        Objects.requireNonNull(fix, "fix");
    }

    public Availability(boolean available, String cause) {
        this(available, cause, "");
    }

    public static Availability ok(String detail) { return new Availability(true, detail, ""); }

    public static Availability unavailable(String cause) { return new Availability(false, cause, ""); }

    /** Unavailable, with the command (or step) that makes it available. */
    public static Availability unavailable(String cause, String fix) { return new Availability(false, cause, fix); }
}
