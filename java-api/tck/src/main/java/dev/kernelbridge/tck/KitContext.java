package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;
import java.util.Map;

/** What every area of the kit works with; {@link ConformanceKit} provides it. */
public interface KitContext {
    /** The bridge under test: the backend's providers, each behind a {@link CountingBackendProvider}. */
    KernelBridge bridge();

    /** The device under test. */
    Device device();

    String deviceId();

    /** Device ids that act as the ranks of collective tests (repeated as needed). */
    List<String> rankDevices();

    Config config();

    /** The providers as the vendor gave them (undecorated), for tests that open their own bridge. */
    List<BackendProvider> providers();

    /** Allocations, copies and launches that reached the backend so far. */
    long deviceCalls();

    /** Figures a test measured, for the conformance report. */
    Map<String, Object> reportFigures();

    default DType firstDtype() {
        return device().supports(DType.F32) ? DType.F32 : DType.F64;
    }

    /** Skips (never fails, never passes) a case needing a type the device does not declare. */
    default void requireDeclared(DType dtype) {
        assumeTrue(device().supports(dtype), () -> device().id() + " does not declare " + dtype.label());
    }
}
