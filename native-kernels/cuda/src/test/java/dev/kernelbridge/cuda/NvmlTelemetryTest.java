package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DeviceTelemetry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NVML telemetry without a GPU: the real library lookup on this machine, and the mappings from NVML's
 * bitmask and histogram to the counters of {@link DeviceTelemetry}.
 */
class NvmlTelemetryTest {
    @Test
    void withoutAReadableGpuEveryFieldIsUnknownAndTheSourceSaysWhy() {
        Optional<Nvml> here = Nvml.load(Nvml.candidates(CudaDriver.DEFAULT_LIBRARY));
        // 0000:00:00.0 is the host bridge on a PC: never a GPU, so a host with NVML finds no device there either
        NvmlTelemetry t = new NvmlTelemetry(() -> here, "0000:00:00.0", "cuda:test");
        DeviceTelemetry first = t.read();
        if (here.isEmpty()) {
            assertEquals("nvml: libnvidia-ml.so.1 not found", first.source());
            assertEquals("nvml: libnvidia-ml.so.1 not found", t.describe());
        } else {
            assertTrue(first.source().startsWith("nvml: nvmlInit failed") || first.source().startsWith("nvml: no device at PCI bus id 0000:00:00.0"),
                    first.source());
        }
        assertFalse(first.reportsAnything(), first.toString());
        assertSame(first, t.read(), "a reading is kept for a second");
        t.close();
        t.close();
        assertFalse(t.read().reportsAnything());
    }

    @Test
    void aDeviceWithoutABusIdReportsNothingAndSaysWhy() {
        Optional<Nvml> here = Nvml.load(Nvml.candidates(CudaDriver.DEFAULT_LIBRARY));
        NvmlTelemetry t = new NvmlTelemetry(() -> here, null, "cuda:test");
        String source = t.read().source();
        assertTrue(source.equals("nvml: libnvidia-ml.so.1 not found") || source.equals("nvml: the CUDA driver gave no PCI bus id for cuda:test")
                || source.startsWith("nvml: nvmlInit failed"), source);
        t.close();
    }

    @Test
    void aLibraryWithoutNvmlsFunctionsIsNotTakenForNvml() {
        // libc loads everywhere and has none of NVML's symbols: passed over, never thrown
        assertTrue(Nvml.load(List.of("libc.so.6")).isEmpty());
        assertTrue(Nvml.load(List.of("/nonexistent/libnvidia-ml.so.1")).isEmpty());
    }

    @Test
    void nvmlIsLookedForBesideTheDriverThenOnTheLoadersPath(@TempDir Path dir) throws IOException {
        Path driver = dir.resolve("libcuda.so.1");
        assertEquals(List.of("libnvidia-ml.so.1"), Nvml.candidates(driver.toString()), "no NVML in that folder");
        Files.createFile(dir.resolve("libnvidia-ml.so.1"));
        assertEquals(List.of(dir.resolve("libnvidia-ml.so.1").toString(), "libnvidia-ml.so.1"), Nvml.candidates(driver.toString()));
        assertEquals(List.of("libnvidia-ml.so.1"), Nvml.candidates("libcuda.so.1"), "a soname: the loader decides");
        assertEquals(List.of("libnvidia-ml.so.1"), Nvml.candidates(null));
    }

    @Test
    void eachThermalOrPowerReasonThatStartsCountsOnce() {
        long power = Nvml.THROTTLE_SW_POWER_CAP, thermal = Nvml.THROTTLE_HW_THERMAL_SLOWDOWN;
        // readings of NVML's bitmask, one a second: capped, still capped, free, capped and hot at once, hot only, free
        long[] masks = {0, power, power, 0, power | thermal, thermal, 0};
        long events = 0;
        for (int i = 1; i < masks.length; i++) {
            events += NvmlTelemetry.newThrottles(masks[i - 1], masks[i]);
        }
        assertEquals(3, events, "entering the power cap twice and the thermal slowdown once");
        assertEquals(1, NvmlTelemetry.newThrottles(power, power | Nvml.THROTTLE_SW_THERMAL_SLOWDOWN), "a new reason while throttled counts");
        assertEquals(1, NvmlTelemetry.newThrottles(0, Nvml.THROTTLE_HW_SLOWDOWN));
        assertEquals(1, NvmlTelemetry.newThrottles(0, Nvml.THROTTLE_HW_POWER_BRAKE_SLOWDOWN));
        // idle, clocks a person set and sync boost are not the GPU slowing itself
        long chosen = Nvml.THROTTLE_GPU_IDLE | Nvml.THROTTLE_APPLICATIONS_CLOCKS_SETTING | Nvml.THROTTLE_SYNC_BOOST
                | Nvml.THROTTLE_DISPLAY_CLOCK_SETTING;
        assertEquals(0, NvmlTelemetry.newThrottles(0, chosen));
        assertEquals(0, NvmlTelemetry.newThrottles(0, chosen | 0x8000_0000_0000_0000L), "bits NVML may add later are not counted");
    }

    @Test
    void spareRowsLeftIsTheWorstBanksClass() {
        assertEquals(4, NvmlTelemetry.spareRowsLeft(640, 0, 0, 0, 0), "every bank has all its reserved rows");
        assertEquals(3, NvmlTelemetry.spareRowsLeft(639, 1, 0, 0, 0));
        assertEquals(2, NvmlTelemetry.spareRowsLeft(600, 30, 10, 0, 0));
        assertEquals(1, NvmlTelemetry.spareRowsLeft(600, 30, 9, 1, 0), "one bank low: the foresight rule drains at 1");
        assertEquals(0, NvmlTelemetry.spareRowsLeft(600, 30, 8, 1, 1), "a bank with none: its next bad row cannot be remapped");
        assertEquals(DeviceTelemetry.UNKNOWN, NvmlTelemetry.spareRowsLeft(0, 0, 0, 0, 0), "no banks reported");
    }

    @Test
    void applicationXidsDoNotCountAgainstTheGpu() {
        for (long xid : new long[] {48, 63, 64, 74, 79, 92, 94, 95, 119, 999}) { // ECC, row remap, NVLink, off the bus, GSP, unknown
            assertTrue(NvmlTelemetry.countsAsDriverEvent(xid), "XID " + xid);
        }
        for (long xid : new long[] {13, 31, 43, 45}) {
            assertFalse(NvmlTelemetry.countsAsDriverEvent(xid), "XID " + xid);
        }
    }

    @Test
    void theGpuCheckTakesEachCudaDevicesTelemetryFromTheDeviceList() {
        // devices --json as the CLI writes it: compact, the fields a device cannot report left out
        String json = "{\"devices\":[{\"id\":\"cpu:0\",\"details\":{\"machine\":\"x\"},\"telemetry\":{\"source\":\"linux sysfs\"}},"
                + "{\"id\":\"cuda:0\",\"details\":{\"pci.bus.id\":\"0000:3b:00.0\",\"nvml\":\"nvml 550.54.15 (libnvidia-ml.so.1)\"},"
                + "\"telemetry\":{\"source\":\"nvml 550.54.15\",\"correctedMemoryErrors\":0,\"spareRowsLeft\":4,\"temperatureCelsius\":41.0}},"
                + "{\"id\":\"cuda:1\",\"details\":{},\"telemetry\":{\"source\":\"nvml: nvmlInit failed: Driver Not Loaded (9)\"}}]}";
        List<java.util.Map<String, Object>> t = GpuCheck.cudaTelemetry(json);
        assertEquals(2, t.size(), t.toString());
        assertEquals(java.util.Map.of("device", "cuda:0", "source", "nvml 550.54.15", "correctedMemoryErrors", 0L, "spareRowsLeft", 4L,
                "temperatureCelsius", 41.0), t.get(0));
        assertEquals("nvml: nvmlInit failed: Driver Not Loaded (9)", t.get(1).get("source"));
        assertFalse(GpuCheck.nvmlReadForAll(t), "cuda:1 could not be read");
        assertTrue(GpuCheck.nvmlReadForAll(t.subList(0, 1)));
        assertFalse(GpuCheck.nvmlReadForAll(List.of()), "no CUDA device in the list");
    }
}
