package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.TuningDatabase;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The host-side logic of the CUDA backend that runs without a GPU: which PTX a device gets, the
 * launch geometry, the parameters PTX and launcher share, and what each CUresult does to a device.
 */
class CudaBackendTest {
    @Test
    void aDeviceGetsTheNewestShippedPtxItsArchitectureRuns() {
        boolean built = CudaModule.class.getResource("/dev/kernelbridge/cuda/ptx/gemm-f32-sm_80.ptx") != null;
        if (CudaToolkit.required()) {
            assertTrue(built, "nvcc is here, so build-ptx must have put the PTX in the jar resources");
        }
        assumeTrue(built, "no PTX built here (no nvcc)");
        assertTrue(CudaModule.shippedPtx("gemm", DType.F32, 86).contains(".target sm_80"), "sm_86 runs the sm_80 PTX");
        assertTrue(CudaModule.shippedPtx("gemm", DType.F64, 90).contains(".target sm_90"));
        assertTrue(CudaModule.shippedPtx("reduce", DType.F32, 120).contains(".target sm_90"), "a newer GPU JIT-compiles the newest PTX");
        assertNull(CudaModule.shippedPtx("gemm", DType.F32, 60), "Pascal has no shipped PTX: NVRTC or nothing");
        String ptx = CudaModule.shippedPtx("gemm", DType.F32, 80);
        for (String kernel : new String[] {"pack_panels", "gemm_packed", "scale_c", "kb_ndrange"}) {
            assertTrue(ptx.contains(kernel), kernel + " missing from the PTX");
        }
    }

    @Test
    void theLauncherUsesTheParametersThePtxWasBuiltWith() {
        Map<String, Integer> p = CudaModule.parameters();
        assertEquals(1, p.get("KB_VW"), "CUDA has no wide vectors");
        for (String k : new String[] {"KB_MV", "KB_NR", "KB_KU", "KB_WG", "KB_LA", "KB_KC"}) {
            assertNotNull(p.get(k), k);
        }
        assertTrue(p.get("KB_WG") <= 1024 && 1024 % p.get("KB_WG") == 0, "a block of KB_WG threads must be legal");
    }

    @Test
    void everyRangeFitsAOneDimensionalGrid() {
        assertEquals(1, CudaGemm.blocks(new long[] {1, 1, 1}, 128));
        assertEquals(2, CudaGemm.blocks(new long[] {129, 1, 1}, 128));
        // k = 100000 and 70000 batch items: far beyond grid y/z (65535), fine as one dimension
        assertEquals(CudaGemm.ceilDiv(4L * 100_000 * 3, 128), CudaGemm.blocks(new long[] {4, 100_000, 3}, 128));
        assertEquals(CudaGemm.ceilDiv(8L * 70_000, 128), CudaGemm.blocks(new long[] {8, 1, 70_000}, 128));
        assertThrows(UnsupportedOperationException.class, () -> CudaGemm.blocks(new long[] {1L << 31, 1L << 10, 1}, 128));
    }

    @Test
    void stickyErrorsLoseTheDeviceAndOutOfMemoryDoesNot() {
        DeviceException lost = CudaErrors.exception("cuda:0", "cuLaunchKernel gemm_packed", 700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access");
        assertInstanceOf(DeviceLostException.class, lost);
        assertEquals("cuda:0", lost.deviceId());
        assertEquals(700, lost.nativeCode());
        assertTrue(lost.getMessage().contains("cuLaunchKernel gemm_packed") && lost.getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"));
        for (int sticky : new int[] {700, 702, 710, 714, 715, 716, 719, 46, 220, 999}) {
            assertInstanceOf(DeviceLostException.class, CudaErrors.exception("cuda:1", "x", sticky, "N", "d"), "code " + sticky);
        }
        DeviceException oom = CudaErrors.exception("cuda:0", "cuMemAlloc", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
        assertInstanceOf(DeviceOutOfMemoryException.class, oom);
        DeviceException plain = CudaErrors.exception("cuda:0", "cuModuleGetFunction", 500, "CUDA_ERROR_NOT_FOUND", "named symbol not found");
        assertEquals(DeviceException.class, plain.getClass(), "a lookup failure leaves the device in service");
    }

    @Test
    void cublasOnlyGetsCallsItsThirtyTwoBitInterfaceCanExpress() {
        GemmCall small = call(1000, 1000, 1000, 1);
        assertTrue(GemmPaths.fitsInt(small));
        assertTrue(!GemmPaths.fitsInt(call(1L << 31, 1, 1, 1)), "m beyond 2^31-1 goes to gemm.cl, never narrowed");
        GemmPaths auto = new GemmPaths(GemmPaths.Mode.AUTO);
        assertEquals(GemmPaths.Path.KERNEL, auto.pathFor(call(1L << 31, 1, 1, 1), true, (c, p) -> { throw new AssertionError("no timing"); }));
        assertEquals(GemmPaths.Path.KERNEL, auto.pathFor(small, false, (c, p) -> { throw new AssertionError("no timing"); }));
    }

    @Test
    void theExactInvocationsOnTheHotPathMatchTheirTableEntries() {
        // CudaDriver invokes these handles exactly (no boxing): a type that differs from the table would throw on the GPU.
        Class<?> seg = java.lang.foreign.MemorySegment.class;
        Map<String, java.lang.invoke.MethodType> called = Map.of(
                "cuCtxSetCurrent", java.lang.invoke.MethodType.methodType(int.class, seg),
                "cuLaunchKernel", java.lang.invoke.MethodType.methodType(int.class, seg, int.class, int.class, int.class, int.class, int.class,
                        int.class, int.class, seg, seg, seg),
                "cuMemcpyHtoDAsync", java.lang.invoke.MethodType.methodType(int.class, long.class, seg, long.class, seg),
                "cuMemcpyDtoHAsync", java.lang.invoke.MethodType.methodType(int.class, seg, long.class, long.class, seg),
                "cuStreamSynchronize", java.lang.invoke.MethodType.methodType(int.class, seg));
        called.forEach((name, type) -> assertEquals(type, CudaDriver.FUNCTIONS.get(name).descriptor().toMethodType(), name));
    }

    @Test
    void theRoutineOfAShapeClassIsChosenOnceBeforeItsFirstCallAndBatchesShareIt() {
        assertEquals(call(1000, 1000, 1000, 1).shapeClass(), call(900, 1000, 1000, 1).shapeClass());
        assertEquals(call(1000, 1000, 1000, 1).shapeClass(), call(1000, 1000, 1000, 8).shapeClass(),
                "a batch's items take the routine of single calls: the same bits");
        assertTrue(call(64, 64, 64, 1).shapeClass() != call(4096, 64, 64, 1).shapeClass());

        GemmPaths auto = new GemmPaths(GemmPaths.Mode.AUTO);
        java.util.List<GemmPaths.Path> timed = new java.util.ArrayList<>();
        java.util.function.BiFunction<GemmCall, GemmPaths.Path, Long> clock = (c, p) -> {
            timed.add(p);
            return p == GemmPaths.Path.KERNEL ? 900L : 1000L;
        };
        assertEquals(GemmPaths.Path.KERNEL, auto.pathFor(call(1000, 1000, 1000, 1), true, clock));
        for (int i = 0; i < 5; i++) {
            assertEquals(GemmPaths.Path.KERNEL, auto.pathFor(call(1000, 1000, 1000, 4), true, (c, p) -> 1L),
                    "decided once: later timings never switch it");
        }
        assertEquals(java.util.List.of(GemmPaths.Path.CUBLAS, GemmPaths.Path.KERNEL), timed, "each routine timed once, before the first call");
        assertEquals(GemmPaths.Path.KERNEL, GemmPaths.faster(-1, 500), "cuBLAS that cannot run there loses");
        assertEquals(GemmPaths.Path.CUBLAS, GemmPaths.faster(500, -1), "so does the kernel");
        assertEquals(GemmPaths.Path.CUBLAS, new GemmPaths(GemmPaths.Mode.CUBLAS).pathFor(call(8, 8, 8, 1), true, null));
        assertEquals(GemmPaths.Path.KERNEL, new GemmPaths(GemmPaths.Mode.KERNEL).pathFor(call(8, 8, 8, 1), true, null));
        assertEquals(3, GemmPaths.time(3, i -> i < 0 ? 100 : 3 + i), "the untimed first run is not counted; the minimum is");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> GemmPaths.mode(dev.kernelbridge.Config.defaults().with(GemmPaths.SETTING, "fast")));
        assertTrue(e.getMessage().startsWith("kernelbridge.cuda.gemm must be auto, cublas or kernel"), e.getMessage());
    }

    @Test
    void aHopperGpuLoadsTheShippedCubinFirstAndEveryGpuEndsWithNvrtc() {
        boolean built = CudaModule.class.getResource("/dev/kernelbridge/cuda/ptx/gemm-f32-sm_90.cubin") != null;
        if (CudaToolkit.required()) {
            assertTrue(built, "nvcc is here, so build-ptx must have put the sm_90 CUBINs in the jar resources");
        }
        assumeTrue(built, "no CUBIN built here (no nvcc)");
        var hopper = CudaModule.images("gemm", DType.F32, 90, CudaModule.PTX_PARAMETERS);
        assertEquals(3, hopper.size(), hopper.toString());
        assertTrue(hopper.get(0).origin().startsWith("shipped CUBIN sm_90"));
        byte[] elf = hopper.get(0).bytes();
        assertTrue(elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F', "a CUBIN is an ELF image");
        assertTrue(hopper.get(1).origin().startsWith("shipped PTX"));
        assertEquals(0, hopper.get(1).bytes()[hopper.get(1).bytes().length - 1], "PTX goes to the driver NUL-terminated");
        assertNull(hopper.get(2).bytes(), "last: NVRTC for the GPU's own architecture");
        var ampere = CudaModule.images("gemm", DType.F64, 86, CudaModule.PTX_PARAMETERS);
        assertEquals(2, ampere.size(), "no CUBIN for sm_86: the sm_80 PTX, then NVRTC");
        var blackwell = CudaModule.images("gemm", DType.F32, 100, CudaModule.PTX_PARAMETERS);
        assertTrue(blackwell.get(0).origin().startsWith("shipped PTX"), "an sm_90 CUBIN does not run on sm_100");
        var tuned = CudaModule.images("gemm", DType.F32, 90, dev.kernelbridge.tuning.GemmParameters.fromDefines(
                java.util.Map.of("KB_MV", 8, "KB_NR", 8, "KB_KU", 2, "KB_WG", 64, "KB_LA", 0, "KB_KC", 256, "KB_VW", 1)));
        assertEquals(1, tuned.size(), "tuned parameters exist only through NVRTC");
        assertTrue(CudaModule.refusedImage(CudaErrors.CUDA_ERROR_UNSUPPORTED_PTX_VERSION), "a PTX too new for the driver gives way");
        assertTrue(!CudaModule.refusedImage(700), "a fault is not a format problem");
    }

    @Test
    void eachTypePairIsItsOwnShapeClassAndCublasTakesI8OnlyWithinItsInt8Rules() {
        GemmCall f32 = call(1000, 1000, 1000, 1);
        GemmCall bf16ToF32 = typed(DType.BF16, DType.F32, 1000, 1000, 1000, 1000, 1000, 0, 0, 1, 0, 0, 0, 1);
        GemmCall bf16 = typed(DType.BF16, DType.BF16, 1000, 1000, 1000, 1000, 1000, 0, 0, 1, 0, 0, 0, 1);
        assertTrue(f32.shapeClass() != bf16ToF32.shapeClass(), "BF16 -> F32 is not F32 -> F32");
        assertTrue(bf16.shapeClass() != bf16ToF32.shapeClass(), "nor BF16 -> BF16");
        assertNull(GemmPaths.cublasRefusal(bf16ToF32), "BF16 and F16 have no alignment rule of ours");
        assertNull(GemmPaths.cublasRefusal(typed(DType.F16, DType.F16, 3, 5, 7, 3, 7, 1, 3, 2, 0.5, 0, 0, 1)));

        GemmCall i8 = typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 1, 0, 0, 0, 1);
        assertNull(GemmPaths.cublasRefusal(i8));
        assertNull(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 4, 8, 1, 1, 0, 0, 3)), "batched, aligned");
        assertTrue(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 1, 0, 3, 0, 1)).contains("zero points"));
        assertTrue(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 63, 64, 64, 63, 64, 0, 0, 1, 0, 0, 0, 1)).contains("lda and ldb"));
        assertTrue(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 1, 0, 1, 0, 0, 0, 1)).contains("32-bit aligned"));
        assertTrue(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 2, 0, 0, 0, 1)).contains("alpha and beta"));
        assertTrue(GemmPaths.cublasRefusal(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 1, -1, 0, 0, 1)).contains("alpha and beta"));
        // A batch whose items start at odd offsets: every item's pointer must be aligned, not only the first.
        GemmCall oddStride = new GemmCall(DType.I32, Transpose.NO_TRANS, Transpose.NO_TRANS, 64, 64, 64, 1, null, 0, 64, 64 * 64 + 1,
                null, 0, 64, 64 * 64, 0, null, 0, 64, 64 * 64, 2, DType.I8, 0, 0);
        assertTrue(GemmPaths.cublasRefusal(oddStride).contains("32-bit aligned"));

        // In every mode a call cuBLAS refuses runs on the kernel, untimed; an I8 class may still pick cuBLAS for the
        // calls it takes: both routines give the same exact integers.
        java.util.function.BiFunction<GemmCall, GemmPaths.Path, Long> never = (c, p) -> { throw new AssertionError("no timing"); };
        GemmCall refused = typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 1, 0, 5, -5, 1);
        assertEquals(GemmPaths.Path.KERNEL, new GemmPaths(GemmPaths.Mode.CUBLAS).pathFor(refused, true, never));
        assertEquals(GemmPaths.Path.KERNEL, new GemmPaths(GemmPaths.Mode.AUTO).pathFor(refused, true, never));
        assertEquals(GemmPaths.Path.CUBLAS, new GemmPaths(GemmPaths.Mode.CUBLAS).pathFor(i8, true, never));
    }

    @Test
    void cublasGroupedTakesOnlyItsDocumentedTypesAndAlignmentAndNeverTheKernelOnlyMode() {
        GemmCall f32 = call(100, 60, 30, 1), f32b = call(7, 9, 5, 3);
        assertNull(GemmPaths.cublasGroupedRefusal(List.of(f32, f32b)));
        assertTrue(new GemmPaths(GemmPaths.Mode.AUTO).groupedByCublas(List.of(f32, f32b), true));
        assertTrue(!new GemmPaths(GemmPaths.Mode.KERNEL).groupedByCublas(List.of(f32, f32b), true), "kernel mode means the shared kernel");
        assertTrue(!new GemmPaths(GemmPaths.Mode.AUTO).groupedByCublas(List.of(f32, f32b), false), "a cuBLAS older than 12.5");
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.BF16, DType.F32, 8, 8, 8, 8, 8, 0, 0, 1, 0, 0, 0, 1))).contains("no bf16 -> f32"));
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.I8, DType.I32, 64, 64, 64, 64, 64, 0, 0, 1, 0, 0, 0, 1))).contains("no i8"));
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(f32, call(4, 4, 0, 1))).contains("k == 0"), "C := beta·C stays exact on gemm.cl");
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(f32, call(1L << 31, 1, 1, 1))).contains("32 bits"));
        // 16-bit inputs: k·2 bytes a multiple of 16 wants 16-byte (8-element) aligned pointers, of 4 wants 4-byte ones.
        assertNull(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.F16, DType.F16, 16, 16, 16, 16, 16, 8, 16, 1, 0, 0, 0, 1))));
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.F16, DType.F16, 16, 16, 16, 16, 16, 4, 0, 1, 0, 0, 0, 1))).contains("16-byte"));
        assertTrue(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.BF16, DType.BF16, 16, 16, 6, 16, 6, 1, 0, 1, 0, 0, 0, 1))).contains("4-byte"));
        assertNull(GemmPaths.cublasGroupedRefusal(List.of(typed(DType.BF16, DType.BF16, 16, 16, 5, 16, 5, 1, 3, 1, 0, 0, 0, 1))), "odd k: no rule");
    }

    /** A call with inputs of {@code in} and C of {@code out}; strides are tight footprints (times {@code batch} items). */
    private static GemmCall typed(DType in, DType out, long m, long n, long k, long lda, long ldb, long offA, long offB,
                                  double alpha, double beta, int za, int zb, long batch) {
        return new GemmCall(out, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, alpha, null, offA, lda, lda * k, null, offB, ldb, ldb * n,
                beta, null, 0, m, m * n, batch, in, za, zb);
    }

    private static GemmCall call(long m, long n, long k, long batch) {
        return new GemmCall(DType.F32, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1, null, 0, m, m * k, null, 0, k, k * n,
                0, null, 0, m, m * n, batch);
    }

    @Test
    void theTuningDatabaseChoosesTheParametersAndOpenClOnlyEntriesAreIgnored(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        var gpu = new TuningDatabase.Identity("NVIDIA", "NVIDIA H100 (sm_90)", "13.0");
        java.nio.file.Path file = dir.resolve("cuda.json");
        assertEquals(CudaModule.PTX_PARAMETERS, CudaDevice.gemmParameters(TuningDatabase.load(file, null), gpu, DType.F32, "cuda:0"),
                "no entry: the parameters the PTX was built with");
        GemmParameters tuned = new GemmParameters(1, 8, 8, 4, 256, 1, 64);
        TuningDatabase.record(file, new TuningDatabase.Entry("gemm", "F32", "NVIDIA", gpu.device(), null, tuned.asDefines(), null));
        assertEquals(tuned, CudaDevice.gemmParameters(TuningDatabase.load(file, null), gpu, DType.F32, "cuda:0"));
        assertEquals(CudaModule.PTX_PARAMETERS, CudaDevice.gemmParameters(TuningDatabase.load(file, null), gpu, DType.F64, "cuda:0"));
        TuningDatabase.record(file, new TuningDatabase.Entry("gemm", "F32", "NVIDIA", gpu.device(), null,
                new GemmParameters(4, 2, 4, 2, 64, 0, 32).asDefines(), null));
        assertEquals(CudaModule.PTX_PARAMETERS, CudaDevice.gemmParameters(TuningDatabase.load(file, null), gpu, DType.F32, "cuda:0"),
                "a vector width of 4 is OpenCL-only");
    }
}
