package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.BackendStatus;
import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import org.junit.jupiter.api.Test;

/** Discovery through ServiceLoader, as a user's class path would find the backend. */
class OpenClPresenceTest {
    @Test
    void theBackendIsFoundThroughTheSpiAndListsItsDevices() {
        OpenClTestSupport.assumeOpenCl();
        try (KernelBridge bridge = KernelBridge.open(Config.defaults())) {
            BackendStatus status = bridge.backends().stream().filter(b -> b.name().equals("opencl")).findFirst().orElseThrow();
            assertTrue(status.state() == BackendStatus.State.OPENED, status.toString());
            assertFalse(bridge.devices().stream().noneMatch(d -> d.id().startsWith("opencl:")), bridge.devices().toString());
            assertTrue(bridge.devices().getFirst().id().startsWith("opencl:"), "OpenCL outranks the CPU backend");
        }
    }
}
