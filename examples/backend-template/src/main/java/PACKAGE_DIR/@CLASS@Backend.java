package @PACKAGE@;

import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import java.util.List;

/** The opened backend: its devices, and the driver resources close() releases. */
final class @CLASS@Backend implements Backend {
    private final List<BackendDevice> devices = List.of(new @CLASS@Device());

    @Override
    public List<BackendDevice> devices() { return devices; }

    @Override
    public void close() {
        // TODO: release driver resources (contexts, queues).
    }
}
