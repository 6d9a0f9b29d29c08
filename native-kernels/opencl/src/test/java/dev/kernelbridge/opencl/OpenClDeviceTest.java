package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.TuningReport;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.GemmVariant;
import dev.kernelbridge.tuning.TuningDatabase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Failures on a real OpenCL device, the program cache and the tuning loop (issue #3 items 3 and 6). */
class OpenClDeviceTest {
    @TempDir
    Path cache;

    @BeforeEach
    void needsOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    private Config config() {
        return Config.defaults().with(Config.BACKEND, "opencl").with(Config.CACHE_DIR, cache.toString());
    }

    @Test
    void aKernelThatDoesNotBuildIsReportedWithTheDeviceAndTheBuildLog() {
        try (OpenClBackend backend = new OpenClBackend(config())) {
            OpenClDevice device = backend.openClDevices().getFirst();
            DeviceException e = assertThrows(DeviceException.class,
                    () -> OpenClProgram.build(device, KernelSources.program("gemm.cl"), "-DKB_DOUBLE=0 -DKB_VW=3", null));
            assertEquals(ClErrors.CL_BUILD_PROGRAM_FAILURE, e.nativeCode());
            assertEquals("CL_BUILD_PROGRAM_FAILURE", e.nativeName());
            assertEquals(device.id(), e.deviceId());
            assertTrue(e.getMessage().contains(device.id()) && e.getMessage().contains(device.info().name()), e.getMessage());
            assertTrue(e.getMessage().contains("build log") && e.getMessage().contains("KB_VW must be 1, 2, 4, 8 or 16"),
                    "carries the compiler's words: " + e.getMessage());
        }
    }

    @Test
    void anAllocationBeyondTheDeviceLimitIsATypedErrorAndTheDeviceStaysUsable() {
        try (KernelBridge bridge = KernelBridge.open(config())) {
            Device device = bridge.device("opencl:0");
            long tooMany = Long.MAX_VALUE / 8;
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> bridge.allocate(device, DType.F64, tooMany));
            assertEquals("opencl:0", e.deviceId());
            // Refused by the bridge against Device.maxAllocationBytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE) before any OpenCL call.
            assertEquals("MAX_ALLOCATION", e.nativeName());
            assertTrue(e.getMessage().contains(String.valueOf(device.maxAllocationBytes())), e.getMessage());
            assertEquals(0, bridge.allocatedBytes(), "nothing was counted for the failed allocation");
            try (DeviceBuffer a = bridge.allocate(device, DType.F32, 4).copyFrom(new float[] {1, 2, 3, 4});
                 DeviceBuffer c = bridge.allocate(device, DType.F32, 4)) {
                bridge.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(2, 2, 2).a(a).b(a).beta(0).c(c).build());
                assertEquals(List.of(7f, 10f, 15f, 22f), List.of(box(c.toFloatArray())));
            }
        }
    }

    @Test
    void everyKernelVariantIsExactOnRaggedEdgesWithNaNInC() {
        List<GemmParameters> variants = List.of(GemmParameters.KERNEL_DEFAULTS,
                new GemmParameters(1, 1, 1, 1, 1, 0, 32),    // scalar
                new GemmParameters(16, 2, 8, 2, 1, 0, 32),   // the AVX-512 tile
                new GemmParameters(8, 3, 5, 3, 1, 0, 32),    // odd tile, odd unroll
                new GemmParameters(2, 1, 6, 2, 16, 1, 7),    // local memory, stages ending mid-panel
                new GemmParameters(1, 4, 3, 1, 4, 1, 32));
        try (OpenClBackend backend = new OpenClBackend(config())) {
            OpenClDevice device = backend.openClDevices().getFirst();
            // F32 and F64 here; the narrow type pairs run the same variants in OpenClNarrowGemmTest.
            for (DType dtype : device.info().dtypes().stream().filter(d -> d == DType.F32 || d == DType.F64).toList()) {
                try (GemmTuner.Problem check = GemmTuner.Problem.check(device, dtype)) {
                    for (GemmParameters p : variants) {
                        try (OpenClProgram program = device.buildGemm(GemmVariant.of(dtype), p)) {
                            assertTrue(check.verify(new OpenClDevice.Gemm(program, p, "test")), dtype + " " + p);
                        }
                    }
                }
            }
        }
    }

    @Test
    void openClStatusCodesBecomeTheApisTypedExceptions() {
        assertInstanceOf(DeviceOutOfMemoryException.class, ClErrors.exception(-4, "opencl:1", "clEnqueueNDRangeKernel"));
        assertInstanceOf(DeviceOutOfMemoryException.class, ClErrors.exception(-6, "opencl:1", "clCreateBuffer"));
        assertInstanceOf(DeviceLostException.class, ClErrors.exception(-2, "opencl:1", "clFinish"));
        DeviceException resources = ClErrors.exception(-5, "opencl:1", "launch of gemm_packed");
        assertEquals("CL_OUT_OF_RESOURCES", resources.nativeName());
        assertEquals(-5, resources.nativeCode());
        assertEquals("opencl:1: launch of gemm_packed failed (CL_OUT_OF_RESOURCES, code -5)", resources.getMessage());
        assertEquals("OpenCL error -9999", ClErrors.name(-9999));
    }

    @Test
    void compiledProgramsAreCachedOnDiskAndReusedAfterARestart() throws IOException {
        String source = KernelSources.program("gemm.cl");
        String options = "-DKB_DOUBLE=0 " + GemmParameters.KERNEL_DEFAULTS.buildOptions();
        Path programs = cache.resolve("programs");
        try (OpenClBackend backend = new OpenClBackend(config());
             OpenClProgram first = OpenClProgram.build(backend.openClDevices().getFirst(), source, options, programs)) {
            assertFalse(first.fromCache());
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(programs)) {
            files = s.toList();
        }
        assertEquals(1, files.size(), "one binary per (device, driver, source, options)");
        try (OpenClBackend backend = new OpenClBackend(config());
             OpenClProgram second = OpenClProgram.build(backend.openClDevices().getFirst(), source, options, programs)) {
            assertTrue(second.fromCache());
            second.kernel("gemm_packed");
        }
        // A damaged binary is refused by the driver and rebuilt from source, never fatal.
        Files.write(files.getFirst(), new byte[] {1, 2, 3});
        try (OpenClBackend backend = new OpenClBackend(config());
             OpenClProgram third = OpenClProgram.build(backend.openClDevices().getFirst(), source, options, programs)) {
            assertFalse(third.fromCache());
            third.kernel("gemm_packed");
        }
        assertTrue(Files.size(files.getFirst()) > 3, "the rebuilt binary replaced the damaged one");
    }

    @Test
    void tuningWritesTheDatabaseThatTheNextOpenUses() throws IOException {
        Path file = cache.resolve("tuning").resolve("opencl.json");
        try (KernelBridge bridge = KernelBridge.open(config())) {
            Device device = bridge.device("opencl:0");
            assertTrue(bridge.isTunable(device));
            assertFalse(bridge.isTunable(null));
            List<Double> progress = new ArrayList<>();
            TuningReport report = bridge.tune(device, Duration.ofSeconds(2), (f, what) -> progress.add(f));
            assertEquals(file.toString(), report.database());
            // Tuned: F32 and F64 (where declared); the narrow types read F32's entries.
            assertEquals(device.supports(DType.F64) ? 2 : 1, report.kernels().size());
            for (TuningReport.Kernel k : report.kernels()) {
                assertTrue(k.gflops() > 0 && k.candidates() >= 1, k.toString());
            }
            assertTrue(!progress.isEmpty() && progress.getLast() == 1.0, "progress ends at 100%: " + progress);
        }
        List<TuningDatabase.Entry> entries = TuningDatabase.parse(Files.readString(file));
        assertFalse(entries.isEmpty());
        TuningDatabase.Entry f32 = entries.stream().filter(e -> e.dtype().equals("F32")).findFirst().orElseThrow();
        assertTrue(f32.provenance() != null && f32.provenance().gflops() > 0 && f32.provenance().tuned() != null, f32.toString());
        try (OpenClBackend backend = new OpenClBackend(config())) {
            OpenClDevice device = backend.openClDevices().getFirst();
            OpenClDevice.Gemm gemm = device.gemmFor(DType.F32);
            assertEquals("user device and driver", gemm.origin());
            assertEquals(GemmParameters.fromDefines(f32.parameters()), gemm.parameters());
        }
    }

    @Test
    void aPlainRunNeverWritesTheTuningDatabase() {
        try (KernelBridge bridge = KernelBridge.open(config());
             DeviceBuffer a = bridge.allocate(bridge.device("opencl:0"), DType.F32, 64 * 64);
             DeviceBuffer c = bridge.allocate(bridge.device("opencl:0"), DType.F32, 64 * 64)) {
            bridge.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(64, 64, 64).a(a).b(a).beta(0).c(c).build());
        }
        assertFalse(Files.exists(cache.resolve("tuning")), "only kernelbridge tune writes tuning results");
    }

    private static Float[] box(float[] v) {
        Float[] out = new Float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }
}
