package dev.kernelbridge.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The oneDNN peer through FFM, where it is installed (Debian: libdnnl2): its BLAS-like GEMMs in F32,
 * BF16→F32 and INT8→I32, its version and the instruction set it dispatches to. Absent oneDNN is
 * reported, not fatal.
 *
 * <p>oneDNN's GEMMs are <em>row-major</em> (unlike CBLAS) and take {@code char} flags ('N'/'T') and
 * 64-bit dimensions. {@code dnnl_gemm_bf16bf16f32} is exported by libdnnl.so.2 but not declared in
 * its header; its prototype is that of {@code dnnl_sgemm} with bfloat16 A and B (oneDNN
 * src/common/gemm.cpp, v2.6). The integer GEMMs take per-tensor offsets ao/bo and an offset vector
 * co for C ('F': one value for all of C). The Debian build threads with OpenMP (libgomp), so the
 * thread count is libgomp's, set on the calling thread.
 */
public final class OneDnn {
    private static final String LIBRARY = "libdnnl.so.2";
    private static final String OPENMP = "libgomp.so.1";
    private static final byte NO_TRANS = 'N', FIXED_OFFSET = 'F';
    private static final Optional<OneDnn> INSTANCE = load();

    private final MethodHandle sgemm, bf16, s8s8, u8s8, version, isa, setThreads, maxThreads;
    /** One I32 zero: co for offsetc 'F'. Read-only, so shared by every call. */
    private final MemorySegment zeroOffset = Arena.global().allocate(ValueLayout.JAVA_INT);

    private OneDnn(SymbolLookup lib, SymbolLookup omp) {
        Linker linker = Linker.nativeLinker();
        ValueLayout C = ValueLayout.JAVA_BYTE, L = ValueLayout.JAVA_LONG, F = ValueLayout.JAVA_FLOAT, P = ValueLayout.ADDRESS,
                I = ValueLayout.JAVA_INT;
        // dnnl_status_t f(char transa, char transb, dim_t M, dim_t N, dim_t K, float alpha, A, dim_t lda, B, dim_t ldb, float beta, C, dim_t ldc)
        FunctionDescriptor floating = FunctionDescriptor.of(I, C, C, L, L, L, F, P, L, P, L, F, P, L);
        sgemm = linker.downcallHandle(lib.findOrThrow("dnnl_sgemm"), floating);
        bf16 = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_bf16bf16f32"), floating);
        // dnnl_status_t f(char transa, char transb, char offsetc, dim_t M, dim_t N, dim_t K, float alpha,
        //                 A, dim_t lda, ao, B, dim_t ldb, bo, float beta, int32_t *C, dim_t ldc, const int32_t *co)
        FunctionDescriptor integer = FunctionDescriptor.of(I, C, C, C, L, L, L, F, P, L, C, P, L, C, F, P, L, P);
        s8s8 = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_s8s8s32"), integer);
        u8s8 = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_u8s8s32"), integer);
        version = linker.downcallHandle(lib.findOrThrow("dnnl_version"), FunctionDescriptor.of(P));
        isa = linker.downcallHandle(lib.findOrThrow("dnnl_get_effective_cpu_isa"), FunctionDescriptor.of(I));
        setThreads = linker.downcallHandle(omp.findOrThrow("omp_set_num_threads"), FunctionDescriptor.ofVoid(I));
        maxThreads = linker.downcallHandle(omp.findOrThrow("omp_get_max_threads"), FunctionDescriptor.of(I));
    }

    private static Optional<OneDnn> load() {
        try {
            return Optional.of(new OneDnn(SymbolLookup.libraryLookup(LIBRARY, Arena.global()), SymbolLookup.libraryLookup(OPENMP, Arena.global())));
        } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
            return Optional.empty();
        }
    }

    /** oneDNN, or empty when libdnnl.so.2 (or the libgomp it threads with) is not installed. */
    public static Optional<OneDnn> get() { return INSTANCE; }

    /** OpenMP threads for the parallel regions this thread starts (omp_set_num_threads). */
    public void setThreads(int threads) {
        try {
            setThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public int threads() {
        try {
            return (int) maxThreads.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** "2.6.3 (avx512_core_amx)": the library's version and the ISA its kernels dispatch to on this CPU. */
    public String version() {
        try {
            MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(12);
            int effective = (int) isa.invokeExact();
            String isaName = switch (effective) {
                case 0x1 -> "sse41";
                case 0x3 -> "avx";
                case 0x7 -> "avx2";
                case 0x27 -> "avx512_core";
                case 0x67 -> "avx512_core_vnni";
                case 0xe7 -> "avx512_core_bf16";
                case 0x3e7 -> "avx512_core_amx";
                case 0x407 -> "avx2_vnni";
                default -> "isa 0x" + Integer.toHexString(effective);
            };
            return v.get(ValueLayout.JAVA_INT, 0) + "." + v.get(ValueLayout.JAVA_INT, 4) + "." + v.get(ValueLayout.JAVA_INT, 8) + " (" + isaName + ")";
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** C := alpha·A·B + beta·C, row-major F32, no transposes. */
    public void sgemm(long m, long n, long k, float alpha, MemorySegment a, long lda, MemorySegment b, long ldb,
                      float beta, MemorySegment c, long ldc) {
        try {
            check("dnnl_sgemm", (int) sgemm.invokeExact(NO_TRANS, NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** As {@link #sgemm} with A and B in bfloat16 bits, C in F32. */
    public void gemmBf16Bf16F32(long m, long n, long k, float alpha, MemorySegment a, long lda, MemorySegment b, long ldb,
                                float beta, MemorySegment c, long ldc) {
        try {
            check("dnnl_gemm_bf16bf16f32", (int) bf16.invokeExact(NO_TRANS, NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** C := alpha·(A − ao)·(B − bo) + beta·C, row-major, A and B signed 8-bit, C in I32, offsets of C zero. */
    public void gemmS8S8S32(long m, long n, long k, float alpha, MemorySegment a, long lda, byte ao, MemorySegment b, long ldb, byte bo,
                            float beta, MemorySegment c, long ldc) {
        try {
            check("dnnl_gemm_s8s8s32", (int) s8s8.invokeExact(NO_TRANS, NO_TRANS, FIXED_OFFSET, m, n, k, alpha, a, lda, ao, b, ldb, bo,
                    beta, c, ldc, zeroOffset));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** As {@link #gemmS8S8S32} with A unsigned 8-bit (ao an unsigned byte too). */
    public void gemmU8S8S32(long m, long n, long k, float alpha, MemorySegment a, long lda, byte ao, MemorySegment b, long ldb, byte bo,
                            float beta, MemorySegment c, long ldc) {
        try {
            check("dnnl_gemm_u8s8s32", (int) u8s8.invokeExact(NO_TRANS, NO_TRANS, FIXED_OFFSET, m, n, k, alpha, a, lda, ao, b, ldb, bo,
                    beta, c, ldc, zeroOffset));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void check(String function, int status) {
        if (status != 0) {
            throw new IllegalStateException(function + " returned dnnl_status_t " + status);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        return t instanceof RuntimeException r ? r : new IllegalStateException(t);
    }
}
