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
        for (int sticky : new int[] {700, 702, 714, 715, 716, 719, 46}) {
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
        assertTrue(CudaDevice.fitsInt(small));
        assertTrue(!CudaDevice.fitsInt(call(1L << 31, 1, 1, 1)), "m beyond 2^31-1 goes to gemm.cl, never narrowed");
        assertEquals(CudaDevice.shapeClass(call(1000, 1000, 1000, 1)), CudaDevice.shapeClass(call(900, 1000, 1000, 1)));
        assertTrue(CudaDevice.shapeClass(call(1000, 1000, 1000, 1)) != CudaDevice.shapeClass(call(1000, 1000, 1000, 8)), "batched is its own class");
        assertTrue(CudaDevice.shapeClass(call(64, 64, 64, 1)) != CudaDevice.shapeClass(call(4096, 64, 64, 1)));
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
