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

    /** PoCL runs on the CPU's own cores: it never becomes the default over the native CPU backend, and the reason says so. */
    @Test
    void anOpenClDeviceOnTheSameCpuDoesNotOutrankTheCpuBackend() {
        OpenClTestSupport.assumeOpenCl();
        try (KernelBridge bridge = KernelBridge.open(Config.defaults())) {
            org.junit.jupiter.api.Assumptions.assumeTrue(bridge.devices().stream().allMatch(d -> d.kind() == dev.kernelbridge.DeviceKind.CPU),
                    "only CPU-kind OpenCL devices here");
            org.junit.jupiter.api.Assertions.assertEquals("cpu:0", bridge.defaultDevice().id());
            assertTrue(bridge.defaultDeviceReason().contains("opencl:0") && bridge.defaultDeviceReason().contains("same CPU"),
                    bridge.defaultDeviceReason());
            org.junit.jupiter.api.Assertions.assertEquals("cpu:0", bridge.communicators(2).getFirst().device().id());
        }
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "opencl"))) {
            org.junit.jupiter.api.Assertions.assertEquals("opencl:0", bridge.defaultDevice().id(), "without the CPU backend PoCL is the default");
        }
    }
}
