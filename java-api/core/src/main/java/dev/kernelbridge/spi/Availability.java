package dev.kernelbridge.spi;

import java.util.Objects;

/** Result of an availability probe: usable, or not with a cause a person can act on. */
public record Availability(boolean available, String cause) {
    public Availability {
        Objects.requireNonNull(cause, "cause");
    }

    public static Availability ok(String detail) { return new Availability(true, detail); }

    public static Availability unavailable(String cause) { return new Availability(false, cause); }
}
