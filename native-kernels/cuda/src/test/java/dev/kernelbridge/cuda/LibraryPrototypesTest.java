package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The NVRTC, cuBLAS and NCCL bindings against their headers: the installed ones where the toolkit
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
        assertEquals(h.enumValue("CUBLAS_OP_N"), Cublas.OP_N);
        assertEquals(h.enumValue("CUBLAS_OP_T"), Cublas.OP_T);
        assertEquals(h.enumValue("CUBLAS_COMPUTE_32F"), Cublas.COMPUTE_32F);
        assertEquals(h.enumValue("CUBLAS_COMPUTE_64F"), Cublas.COMPUTE_64F);
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
