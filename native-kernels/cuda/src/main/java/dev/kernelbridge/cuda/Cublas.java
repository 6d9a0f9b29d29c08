package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * cuBLAS through FFM, when libcublas is installed: the GEMM path that competes with our kernels
 * (measurement decides, per dtype and shape class, in {@link CudaDevice}). {@link #FUNCTIONS} is
 * checked against cublas_api.h where installed, else against the checked-in prototypes.
 */
final class Cublas {
    private static final java.lang.foreign.MemoryLayout P = NativeFunction.P, I = NativeFunction.I, L = NativeFunction.L;

    static final int OP_N = 0, OP_T = 1;
    /** cudaDataType (library_types.h). */
    static final int CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_8I = 3, CUDA_R_32I = 10, CUDA_R_16BF = 14;
    /** cublasComputeType_t. */
    static final int COMPUTE_32F = 68, COMPUTE_64F = 70, COMPUTE_32I = 72;
    static final int GEMM_DEFAULT = -1;

    /**
     * cublasGemmEx's type arguments for one of our type pairs: the type of A and B, of C, the compute
     * type, and the type alpha and beta point to (the compute type's scalar).
     */
    record GemmTypes(int ab, int c, int compute, DType scalar) {
        static GemmTypes of(DType input, DType output) {
            return switch (input) {
                case F64 -> new GemmTypes(CUDA_R_64F, dataType(output), COMPUTE_64F, DType.F64);
                // int8 products summed in int32; alpha and beta are int32 (CUBLAS_COMPUTE_32I's scale type)
                case I8 -> new GemmTypes(CUDA_R_8I, dataType(output), COMPUTE_32I, DType.I32);
                // F32, BF16, F16: exact products accumulated in F32, C rounded once to its type (never
                // a reduced-precision compute type such as CUBLAS_COMPUTE_32F_FAST_16F)
                default -> new GemmTypes(dataType(input), dataType(output), COMPUTE_32F, DType.F32);
            };
        }
    }

    static int dataType(DType t) {
        return switch (t) {
            case F32 -> CUDA_R_32F;
            case F64 -> CUDA_R_64F;
            case F16 -> CUDA_R_16F;
            case BF16 -> CUDA_R_16BF;
            case I8 -> CUDA_R_8I;
            case I32 -> CUDA_R_32I;
        };
    }

    /** Every call returns cublasStatus_t (an int) except cublasGetStatusString. */
    static final Map<String, NativeFunction> FUNCTIONS = NativeFunction.table(
            NativeFunction.of("cublasCreate_v2", I, P),
            NativeFunction.of("cublasDestroy_v2", I, P),
            NativeFunction.of("cublasSetStream_v2", I, P, P),
            // handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo
            NativeFunction.of("cublasGemmEx", I, P, I, I, I, I, I, P, P, I, I, P, I, I, P, P, I, I, I, I),
            // ... with long long strides and an int batch count after each operand's leading dimension
            NativeFunction.of("cublasGemmStridedBatchedEx", I, P, I, I, I, I, I, P, P, I, I, L, P, I, I, L, P, P, I, I, L, I, I, I),
            NativeFunction.of("cublasGetStatusString", P, I));

    /**
     * Functions of newer cuBLAS versions, bound where the loaded library has them. cublasGemmGroupedBatchedEx
     * (12.5+): handle; per group (host arrays) transa, transb, m, n, k, alpha; per problem (device arrays of
     * pointers) A, then Atype, per group lda; B, Btype, ldb; per group beta; C, Ctype, ldc; group count,
     * per group problem count, compute type.
     */
    static final Map<String, NativeFunction> OPTIONAL = NativeFunction.table(
            NativeFunction.of("cublasGemmGroupedBatchedEx", I, P, P, P, P, P, P, P, P, I, P, P, I, P, P, P, I, P, I, P, I));

    static final List<String> LIBRARIES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so");

    private final NativeLibrary lib;
    private final boolean groupedGemm;

    private Cublas(NativeLibrary lib) {
        this.lib = lib;
        this.groupedGemm = lib.bindOptional(OPTIONAL.get("cublasGemmGroupedBatchedEx"));
    }

    /** True when this cuBLAS has cublasGemmGroupedBatchedEx (12.5 and newer). */
    boolean hasGroupedGemm() {
        return groupedGemm;
    }

    /** Where it was loaded from (a path, or a soname the loader resolved). */
    String location() {
        return lib.name;
    }

    /** The library where {@link LibrarySearch} finds it (looked for once per process), or empty. */
    static Optional<Cublas> load() {
        return Found.LIBRARY;
    }

    /** Looked for once per process, on first use (class initialisation is lazy and thread-safe). */
    private static final class Found {
        static final Optional<Cublas> LIBRARY = NativeLibrary.search(LIBRARIES, FUNCTIONS, name -> { }).map(Cublas::new);
    }

    int call(String name, Object... args) {
        return lib.call(name, args);
    }

    String statusString(int status) {
        return lib.text("cublasGetStatusString", status, "cuBLAS status " + status);
    }

    /** A cuBLAS handle on {@code stream}; the caller destroys it. */
    MemorySegment create(MemorySegment stream) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            int s = call("cublasCreate_v2", out);
            if (s != 0) {
                throw new IllegalStateException("cublasCreate failed: " + statusString(s));
            }
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            call("cublasSetStream_v2", handle, stream);
            return handle;
        }
    }
}
