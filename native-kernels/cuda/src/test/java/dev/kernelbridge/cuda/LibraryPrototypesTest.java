package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.DType;
import dev.kernelbridge.tuning.GemmVariant;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The NVRTC, cuBLAS, NCCL and NVML bindings against their headers: the installed ones where the toolkit
 * has them, else the prototypes checked in under src/test/resources/prototypes (transcribed from
 * the public headers). Also the enumerator values the backend passes (data types, compute types).
 */
class LibraryPrototypesTest {
    /** The installed header when present, else the checked-in prototypes; and which one it was. */
    private static HeaderPrototypes header(String name, List<Path> installed) throws IOException {
        for (Path p : installed) {
            if (Files.isRegularFile(p)) {
                System.out.println("LibraryPrototypesTest: " + name + " from " + p);
                return new HeaderPrototypes(Files.readString(p));
            }
        }
        try (InputStream in = LibraryPrototypesTest.class.getResourceAsStream("/prototypes/" + name)) {
            assertTrue(in != null, "checked-in prototypes " + name + " missing");
            System.out.println("LibraryPrototypesTest: " + name + " from the checked-in prototypes (no installed header)");
            return new HeaderPrototypes(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    private static void agree(String what, HeaderPrototypes h, Map<String, NativeFunction> table) {
        List<String> problems = h.check(table);
        if (!problems.isEmpty()) {
            fail(problems.size() + " " + what + " binding(s) disagree with the header:\n" + String.join("\n", problems));
        }
    }

    @Test
    void nvrtcBindingMatchesNvrtcH() throws IOException {
        agree("NVRTC", header("nvrtc.h", List.of(CudaToolkit.header("nvrtc.h"))), Nvrtc.FUNCTIONS);
    }

    @Test
    void cublasBindingMatchesCublasApiH() throws IOException {
        HeaderPrototypes h = header("cublas_api.h", List.of(CudaToolkit.header("cublas_api.h")));
        agree("cuBLAS", h, Cublas.FUNCTIONS);
        agree("cuBLAS (newer versions)", h, Cublas.OPTIONAL);
        assertEquals(h.enumValue("CUBLAS_OP_N"), Cublas.OP_N);
        assertEquals(h.enumValue("CUBLAS_OP_T"), Cublas.OP_T);
        assertEquals(h.enumValue("CUBLAS_COMPUTE_32F"), Cublas.COMPUTE_32F);
        assertEquals(h.enumValue("CUBLAS_COMPUTE_64F"), Cublas.COMPUTE_64F);
        assertEquals(h.enumValue("CUBLAS_COMPUTE_32I"), Cublas.COMPUTE_32I);
    }

    @Test
    void gemmExDataTypesMatchLibraryTypesH() throws IOException {
        // cudaDataType lives in library_types.h (installed with the toolkit, even without cuBLAS).
        HeaderPrototypes h = header("cublas_api.h", List.of(CudaToolkit.header("library_types.h")));
        assertEquals(h.enumValue("CUDA_R_32F"), Cublas.CUDA_R_32F);
        assertEquals(h.enumValue("CUDA_R_64F"), Cublas.CUDA_R_64F);
        assertEquals(h.enumValue("CUDA_R_16F"), Cublas.CUDA_R_16F);
        assertEquals(h.enumValue("CUDA_R_16BF"), Cublas.CUDA_R_16BF);
        assertEquals(h.enumValue("CUDA_R_8I"), Cublas.CUDA_R_8I);
        assertEquals(h.enumValue("CUDA_R_32I"), Cublas.CUDA_R_32I);
    }

    @Test
    void everyTypePairMapsToTheGemmExTypesItsComputeNeeds() {
        for (GemmVariant v : GemmVariant.ALL) {
            Cublas.GemmTypes t = Cublas.GemmTypes.of(v.input(), v.output());
            assertEquals(Cublas.dataType(v.input()), t.ab(), v + " A and B");
            assertEquals(Cublas.dataType(v.output()), t.c(), v + " C");
            assertEquals(v.computeType(), t.scalar(), v + ": alpha and beta in the compute type");
        }
        assertEquals(new Cublas.GemmTypes(Cublas.CUDA_R_16BF, Cublas.CUDA_R_32F, Cublas.COMPUTE_32F, DType.F32),
                Cublas.GemmTypes.of(DType.BF16, DType.F32), "BF16 products accumulate in F32, never a reduced compute type");
        assertEquals(new Cublas.GemmTypes(Cublas.CUDA_R_16F, Cublas.CUDA_R_16F, Cublas.COMPUTE_32F, DType.F32),
                Cublas.GemmTypes.of(DType.F16, DType.F16));
        assertEquals(new Cublas.GemmTypes(Cublas.CUDA_R_8I, Cublas.CUDA_R_32I, Cublas.COMPUTE_32I, DType.I32),
                Cublas.GemmTypes.of(DType.I8, DType.I32), "int8 sums and alpha/beta are int32");
        assertEquals(new Cublas.GemmTypes(Cublas.CUDA_R_64F, Cublas.CUDA_R_64F, Cublas.COMPUTE_64F, DType.F64),
                Cublas.GemmTypes.of(DType.F64, DType.F64));
    }

    @Test
    void ncclTakesEveryTypeButIntegerAverages() {
        for (dev.kernelbridge.DType dtype : dev.kernelbridge.DType.values()) {
            for (dev.kernelbridge.ReduceOp op : dev.kernelbridge.ReduceOp.values()) {
                boolean integerAverage = !dtype.isFloatingPoint() && op == dev.kernelbridge.ReduceOp.AVG;
                assertEquals(!integerAverage, NcclCollectives.supported(op, dtype), op + " " + dtype);
            }
        }
    }

    @Test
    void ncclBindingMatchesNcclH() throws IOException {
        HeaderPrototypes h = header("nccl.h", List.of(CudaToolkit.header("nccl.h"), Path.of("/usr/include/nccl.h")));
        agree("NCCL", h, Nccl.FUNCTIONS);
        assertEquals(h.enumValue("ncclSum"), NcclCollectives.ncclOp(dev.kernelbridge.ReduceOp.SUM));
        assertEquals(h.enumValue("ncclProd"), NcclCollectives.ncclOp(dev.kernelbridge.ReduceOp.PROD));
        assertEquals(h.enumValue("ncclMax"), NcclCollectives.ncclOp(dev.kernelbridge.ReduceOp.MAX));
        assertEquals(h.enumValue("ncclMin"), NcclCollectives.ncclOp(dev.kernelbridge.ReduceOp.MIN));
        assertEquals(h.enumValue("ncclAvg"), NcclCollectives.ncclOp(dev.kernelbridge.ReduceOp.AVG));
        assertEquals(h.enumValue("ncclFloat32"), NcclCollectives.ncclType(dev.kernelbridge.DType.F32));
        assertEquals(h.enumValue("ncclFloat64"), NcclCollectives.ncclType(dev.kernelbridge.DType.F64));
        assertEquals(h.enumValue("ncclBfloat16"), NcclCollectives.ncclType(dev.kernelbridge.DType.BF16));
        assertEquals(h.enumValue("ncclFloat16"), NcclCollectives.ncclType(dev.kernelbridge.DType.F16));
        assertEquals(h.enumValue("ncclInt8"), NcclCollectives.ncclType(dev.kernelbridge.DType.I8));
        assertEquals(h.enumValue("ncclInt32"), NcclCollectives.ncclType(dev.kernelbridge.DType.I32));
    }

    /**
     * Where nvml.h may be, in order: named by {@code kernelbridge.test.nvmlHeader} or {@code KERNELBRIDGE_NVML_HEADER},
     * the system's (libnvidia-ml-dev), the toolkit's, then the copy ci/setup fetches (CUDA 11.8's, checked by sha256).
     */
    static List<Path> nvmlHeaders() {
        List<Path> out = new java.util.ArrayList<>();
        for (String named : new String[] {System.getProperty("kernelbridge.test.nvmlHeader"), System.getenv("KERNELBRIDGE_NVML_HEADER")}) {
            if (named != null && !named.isBlank()) {
                out.add(Path.of(named));
            }
        }
        out.add(Path.of("/usr/include/nvml.h"));
        out.add(CudaToolkit.header("nvml.h"));
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        out.add(cache.resolve("kernelbridge/headers/nvml-11.8/nvml.h"));
        return out;
    }

    @Test
    void nvmlBindingMatchesNvmlH() throws IOException {
        nvmlAgrees(header("nvml.h", nvmlHeaders()));
    }

    /** The checked-in copy too, when the test above read a real header: both must agree with the binding, and so with each other. */
    @Test
    void theCheckedInNvmlPrototypesAgreeWithTheBinding() throws IOException {
        nvmlAgrees(header("nvml.h", List.of()));
    }

    private static void nvmlAgrees(HeaderPrototypes h) {
        agree("NVML", h, Nvml.FUNCTIONS);
        agree("NVML (optional)", h, Nvml.OPTIONAL);
        // the newer name of the throttle reasons is only in headers of R535 and later (CUDA 12.2+)
        if (h.declares("nvmlDeviceGetCurrentClocksEventReasons")) {
            agree("NVML (renamed)", h, Nvml.RENAMED);
        }
        assertEquals(h.enumValue("NVML_SUCCESS"), Nvml.SUCCESS);
        assertEquals(h.enumValue("NVML_ERROR_NOT_SUPPORTED"), Nvml.ERROR_NOT_SUPPORTED);
        assertEquals(h.enumValue("NVML_ERROR_INSUFFICIENT_SIZE"), Nvml.ERROR_INSUFFICIENT_SIZE);
        assertEquals(h.enumValue("NVML_ERROR_TIMEOUT"), Nvml.ERROR_TIMEOUT);
        assertEquals(h.enumValue("NVML_MEMORY_ERROR_TYPE_CORRECTED"), Nvml.MEMORY_ERROR_TYPE_CORRECTED);
        assertEquals(h.enumValue("NVML_MEMORY_ERROR_TYPE_UNCORRECTED"), Nvml.MEMORY_ERROR_TYPE_UNCORRECTED);
        assertEquals(h.enumValue("NVML_VOLATILE_ECC"), Nvml.VOLATILE_ECC);
        assertEquals(h.enumValue("NVML_AGGREGATE_ECC"), Nvml.AGGREGATE_ECC);
        assertEquals(h.enumValue("NVML_TEMPERATURE_GPU"), Nvml.TEMPERATURE_GPU);
        assertEquals(h.enumValue("NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS"), Nvml.PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS);
        assertEquals(h.enumValue("NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR"), Nvml.PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR);
        assertEquals(h.defineValue("nvmlEventTypeXidCriticalError"), Nvml.EVENT_TYPE_XID_CRITICAL_ERROR);
        assertEquals(h.defineValue("NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE"), Nvml.DEVICE_PCI_BUS_ID_BUFFER_SIZE);
        assertEquals(h.defineValue("NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE"), Nvml.SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
        Map<String, Long> reasons = Map.of("GpuIdle", Nvml.THROTTLE_GPU_IDLE, "ApplicationsClocksSetting", Nvml.THROTTLE_APPLICATIONS_CLOCKS_SETTING,
                "SwPowerCap", Nvml.THROTTLE_SW_POWER_CAP, "HwSlowdown", Nvml.THROTTLE_HW_SLOWDOWN, "SyncBoost", Nvml.THROTTLE_SYNC_BOOST,
                "SwThermalSlowdown", Nvml.THROTTLE_SW_THERMAL_SLOWDOWN, "HwThermalSlowdown", Nvml.THROTTLE_HW_THERMAL_SLOWDOWN,
                "HwPowerBrakeSlowdown", Nvml.THROTTLE_HW_POWER_BRAKE_SLOWDOWN, "DisplayClockSetting", Nvml.THROTTLE_DISPLAY_CLOCK_SETTING);
        reasons.forEach((name, bit) -> assertEquals(h.defineValue("nvmlClocksThrottleReason" + name), bit, name));
    }

    @Test
    void theCheckerCatchesAnEventMaskPassedAsAnInt() throws IOException {
        HeaderPrototypes h = header("nvml.h", List.of());
        // unsigned long long eventTypes as a 32-bit int: it would still link, and read garbage above bit 31
        NativeFunction bad = NativeFunction.of("nvmlDeviceRegisterEvents", NativeFunction.I, NativeFunction.P, NativeFunction.I, NativeFunction.P);
        assertEquals(1, h.check(Map.of(bad.declared(), bad)).size());
        NativeFunction unversioned = NativeFunction.of("nvmlInit", NativeFunction.I);
        assertEquals(1, h.check(Map.of("nvmlInit", unversioned)).size(), "nvml.h maps nvmlInit to nvmlInit_v2");
        assertEquals(0x40L, h.defineValue("nvmlClocksThrottleReasonHwThermalSlowdown"));
    }

    @Test
    void theCheckerReadsTheSpellingsOfNewerNvmlHeaders() {
        // R535+ headers: the reasons renamed, the old names #defined to the new ones, the old function marked deprecated
        HeaderPrototypes h = new HeaderPrototypes("""
                typedef struct nvmlDevice_st* nvmlDevice_t;
                typedef enum nvmlReturn_enum { NVML_SUCCESS = 0 } nvmlReturn_t;
                #define nvmlClocksEventReasonHwThermalSlowdown            0x0000000000000040LL
                #define nvmlClocksThrottleReasonHwThermalSlowdown         nvmlClocksEventReasonHwThermalSlowdown
                nvmlReturn_t DECLDIR nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons);
                DEPRECATED(12.4) nvmlReturn_t DECLDIR nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *clocksThrottleReasons);
                """);
        assertEquals(Nvml.THROTTLE_HW_THERMAL_SLOWDOWN, h.defineValue("nvmlClocksThrottleReasonHwThermalSlowdown"));
        assertEquals(List.of(), h.check(Nvml.RENAMED));
        assertEquals(List.of(), h.check(Map.of("nvmlDeviceGetCurrentClocksThrottleReasons", Nvml.OPTIONAL.get("nvmlDeviceGetCurrentClocksThrottleReasons"))));
    }

    @Test
    void theGroupedGemmIsBoundOnlyWhereTheLibraryHasItAndItsArraysArePointers() {
        NativeFunction grouped = Cublas.OPTIONAL.get("cublasGemmGroupedBatchedEx");
        assertTrue(grouped != null && !Cublas.FUNCTIONS.containsKey("cublasGemmGroupedBatchedEx"),
                "a cuBLAS before 12.5 must still load: the grouped GEMM is optional");
        // 20 arguments: every per-group array and the pointer arrays are pointers; the types, group count and compute type ints.
        assertEquals(20, grouped.args().size());
        for (int i : new int[] {8, 11, 15, 17, 19}) {
            assertEquals(NativeFunction.I, grouped.args().get(i), "argument " + i);
        }
    }

    @Test
    void theCheckerCatchesAWrongStrideWidthInTheCheckedInText() throws IOException {
        HeaderPrototypes h = header("cublas_api.h", List.of());
        NativeFunction good = Cublas.FUNCTIONS.get("cublasGemmStridedBatchedEx");
        List<java.lang.foreign.MemoryLayout> args = new java.util.ArrayList<>(good.args());
        args.set(10, NativeFunction.I); // strideA as a 32-bit int: the classic LP64 mistake
        NativeFunction bad = new NativeFunction(good.symbol(), good.declared(), good.result(), args);
        assertEquals(1, h.check(Map.of(bad.declared(), bad)).size());
    }

    @Test
    void theCheckerCatchesAUniqueIdPassedByPointerInsteadOfByValue() throws IOException {
        HeaderPrototypes h = header("nccl.h", List.of());
        NativeFunction good = Nccl.FUNCTIONS.get("ncclCommInitRankConfig");
        List<java.lang.foreign.MemoryLayout> args = new java.util.ArrayList<>(good.args());
        args.set(2, NativeFunction.P);
        NativeFunction bad = new NativeFunction(good.symbol(), good.declared(), good.result(), args);
        assertEquals(List.of(), h.check(Map.of(good.declared(), good)));
        assertEquals(1, h.check(Map.of(bad.declared(), bad)).size(), "ncclUniqueId travels by value (128 bytes)");
    }
}
