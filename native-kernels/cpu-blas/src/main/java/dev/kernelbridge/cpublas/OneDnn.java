package dev.kernelbridge.cpublas;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * oneDNN's BLAS-like GEMMs through FFM, pinned to the 2.x ABI (Debian's libdnnl2): {@code dnnl_sgemm},
 * {@code dnnl_gemm_bf16bf16f32} (exported by 2.x, not declared in its header; the prototype of
 * {@code dnnl_sgemm} with bfloat16 A and B) and {@code dnnl_gemm_s8s8s32}. Row-major, {@code char}
 * transposes, 64-bit dimensions. The library threads with OpenMP (libgomp), whose thread count is
 * per calling thread, so it is set before each call. {@link #load} refuses another major version.
 */
final class OneDnn {
    static final String SONAME = "libdnnl.so.2", OPENMP = "libgomp.so.1";
    static final byte NO_TRANS = 'N', TRANS = 'T', FIXED_OFFSET = 'F';

    final MethodHandle sgemm, bf16, s8s8, sgemmHeap, bf16Heap, s8s8Heap, setThreads;
    private final MethodHandle version, isa;
    /** One I32 zero: co for offsetc 'F'. Never written, so shared by every call. */
    final MemorySegment zeroOffset = Arena.global().allocate(ValueLayout.JAVA_INT);

    private OneDnn(SymbolLookup lib, SymbolLookup omp) {
        Linker linker = Linker.nativeLinker();
        ValueLayout C = ValueLayout.JAVA_BYTE, L = ValueLayout.JAVA_LONG, F = ValueLayout.JAVA_FLOAT, P = ValueLayout.ADDRESS,
                I = ValueLayout.JAVA_INT;
        // dnnl_status_t f(char transa, char transb, dim_t M, N, K, float alpha, A, dim_t lda, B, dim_t ldb, float beta, C, dim_t ldc)
        FunctionDescriptor floating = FunctionDescriptor.of(I, C, C, L, L, L, F, P, L, P, L, F, P, L);
        // dnnl_status_t f(char transa, transb, offsetc, dim_t M, N, K, float alpha, A, dim_t lda, int8 ao, B, dim_t ldb, int8 bo,
        //                 float beta, int32_t *C, dim_t ldc, const int32_t *co)
        FunctionDescriptor integer = FunctionDescriptor.of(I, C, C, C, L, L, L, F, P, L, C, P, L, C, F, P, L, P);
        Linker.Option heap = Linker.Option.critical(true);
        sgemm = linker.downcallHandle(lib.findOrThrow("dnnl_sgemm"), floating);
        bf16 = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_bf16bf16f32"), floating);
        s8s8 = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_s8s8s32"), integer);
        sgemmHeap = linker.downcallHandle(lib.findOrThrow("dnnl_sgemm"), floating, heap);
        bf16Heap = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_bf16bf16f32"), floating, heap);
        s8s8Heap = linker.downcallHandle(lib.findOrThrow("dnnl_gemm_s8s8s32"), integer, heap);
        version = linker.downcallHandle(lib.findOrThrow("dnnl_version"), FunctionDescriptor.of(P));
        isa = linker.downcallHandle(lib.findOrThrow("dnnl_get_effective_cpu_isa"), FunctionDescriptor.of(I));
        setThreads = linker.downcallHandle(omp.findOrThrow("omp_set_num_threads"), FunctionDescriptor.ofVoid(I));
    }

    /**
     * The binding, or IllegalArgumentException (library absent), NoSuchElementException (a symbol
     * absent) or IllegalStateException (another major version: its structs and arguments differ).
     */
    static OneDnn load(String library) {
        OneDnn d = new OneDnn(SymbolLookup.libraryLookup(library, Arena.global()), SymbolLookup.libraryLookup(OPENMP, Arena.global()));
        int[] v = d.versionNumbers();
        if (v[0] != 2) {
            throw new IllegalStateException("oneDNN " + v[0] + "." + v[1] + "." + v[2] + " found; this binding is for the 2.x ABI");
        }
        return d;
    }

    private int[] versionNumbers() {
        try {
            MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(12);
            return new int[] {v.get(ValueLayout.JAVA_INT, 0), v.get(ValueLayout.JAVA_INT, 4), v.get(ValueLayout.JAVA_INT, 8)};
        } catch (Throwable t) {
            throw new IllegalStateException("dnnl_version failed", t);
        }
    }

    /** "oneDNN 2.6.3 (avx512_core_bf16)": the version and the instruction set its kernels dispatch to here. */
    String describe() {
        int[] v = versionNumbers();
        int effective;
        try {
            effective = (int) isa.invokeExact();
        } catch (Throwable t) {
            effective = -1;
        }
        String name = switch (effective) {
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
        return "oneDNN " + v[0] + "." + v[1] + "." + v[2] + " (" + name + ")";
    }
}
