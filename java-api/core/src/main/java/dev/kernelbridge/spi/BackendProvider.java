package dev.kernelbridge.spi;

/**
 * Entry point of a backend, found by {@link java.util.ServiceLoader}. Instances are created by the
 * loader and must be cheap to construct: native libraries are looked at in {@link #probe()}.
 */
public interface BackendProvider {
    /** Version of this SPI. A provider built against another version is skipped with its cause. */
    int SPI_VERSION = 1;

    /** Short lower-case name used in device ids and in {@code kernelbridge.backend}: "cpu", "opencl". */
    String name();

    /** Preference when several backends are present; higher wins. The CPU backend has 0. */
    int priority();

    /** The SPI version this provider implements. */
    default int spiVersion() { return SPI_VERSION; }

    /**
     * The settings this backend reads beside the core ones ({@code kernelbridge.<key>}, mirrored by
     * {@code KERNELBRIDGE_*}): listed in the generated settings reference (docs/settings.md). Optional; a backend without settings of its own keeps the default.
     */
    default java.util.List<dev.kernelbridge.Config.Knob> knobs() { return java.util.List.of(); }

    /** Checks whether the runtime is usable here. Must not throw and must not keep native resources. */
    Availability probe();

    /** Opens the backend with the effective settings; called only after a successful probe. May throw a DeviceException. */
    Backend open(dev.kernelbridge.Config config);
}
