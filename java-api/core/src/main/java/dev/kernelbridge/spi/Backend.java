package dev.kernelbridge.spi;

import java.util.List;

/** An opened backend: a fixed list of devices, and native resources released by {@link #close()}. */
public interface Backend extends AutoCloseable {
    /** The devices of this backend, in a stable order; index i becomes device id "name:i". */
    List<BackendDevice> devices();

    /** Releases native resources. Called once, after every buffer has been released. */
    @Override
    void close();
}
