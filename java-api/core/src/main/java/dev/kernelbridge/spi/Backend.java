package dev.kernelbridge.spi;

import java.util.List;

/** An opened backend: a fixed list of devices, and native resources released by {@link #close()}. */
public interface Backend extends AutoCloseable {
    /** The devices of this backend, in a stable order; index i becomes device id "name:i". */
    List<BackendDevice> devices();

    /**
     * A vendor collective engine over {@code ranks} (distinct devices of this backend, rank r on
     * {@code ranks.get(r)}), or empty. Only asked when the user allows vendor collectives.
     */
    default java.util.Optional<DeviceCollectives> collectives(List<BackendDevice> ranks) {
        return java.util.Optional.empty();
    }

    /** Releases native resources. Called once, after every buffer has been released. */
    @Override
    void close();
}
