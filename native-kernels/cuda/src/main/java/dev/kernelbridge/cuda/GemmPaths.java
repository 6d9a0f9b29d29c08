package dev.kernelbridge.cuda;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.spi.GemmCall;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * Which routine serves GEMMs of a shape class on one GPU — cuBLAS or the shared gemm.cl kernel —
 * decided once, before the first call of the class runs, and kept: the two sum in different orders,
 * so switching mid-run would change a result's bits between two identical calls. Batched and single
 * calls of a class take the same routine (a batch's items equal the single calls). In {@code auto},
 * each routine is timed on scratch buffers of the class's shape after an untimed run (handle
 * creation, module load and JIT are not the routine's speed); the faster wins. A class is its type
 * pair, transposes and sizes. Calls cuBLAS cannot take ({@link #cublasRefusal}) run on the kernel in
 * every mode; within a class that only varies for I8, whose results are exact on both routines, so
 * no bits change between calls. Not thread-safe: used under the device lock.
 */
final class GemmPaths {
    enum Path { CUBLAS, KERNEL }

    enum Mode { AUTO, CUBLAS, KERNEL }

    static final Config.Knob SETTING = new Config.Knob("cuda.gemm", "auto",
            "GEMM routine on CUDA devices: auto (per shape class, the faster of cuBLAS and the shared kernel, measured once on"
                    + " scratch buffers), cublas, or kernel. Calls beyond cuBLAS's 32-bit sizes, I8 calls outside its int8 rules"
                    + " (alignment, zero points), or without cuBLAS, use the kernel. Grouped GEMMs use cublasGemmGroupedBatchedEx"
                    + " (cuBLAS 12.5+) in auto and cublas where it takes the groups, else the shared grouped kernel.");

    private final Mode mode;
    private final Map<Long, Path> chosen = new HashMap<>();

    GemmPaths(Mode mode) {
        this.mode = mode;
    }

    static Mode mode(Config config) {
        String v = config.get(SETTING).trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "auto" -> Mode.AUTO;
            case "cublas" -> Mode.CUBLAS;
            case "kernel" -> Mode.KERNEL;
            default -> throw new IllegalArgumentException(SETTING.property() + " must be auto, cublas or kernel, got '" + v + "'");
        };
    }

    /**
     * The routine for {@code call}. {@code timeNanos} times one routine on the class's scratch shape
     * (called only in auto mode, twice per class: once per routine); a negative time means the routine
     * could not run there (out of memory) and loses.
     */
    Path pathFor(GemmCall call, boolean cublasPresent, java.util.function.BiFunction<GemmCall, Path, Long> timeNanos) {
        if (!cublasPresent || !fitsInt(call) || mode == Mode.KERNEL || cublasRefusal(call) != null) {
            return Path.KERNEL;
        }
        if (mode == Mode.CUBLAS) {
            return Path.CUBLAS;
        }
        return chosen.computeIfAbsent(call.shapeClass(), key -> {
            long cublas = timeNanos.apply(call, Path.CUBLAS), kernel = timeNanos.apply(call, Path.KERNEL);
            return faster(cublas, kernel);
        });
    }

    /** The routine a decision for the class of {@code call} has fixed, or null while undecided. */
    Path decided(GemmCall call) {
        return chosen.get(call.shapeClass());
    }

    static Path faster(long cublasNanos, long kernelNanos) {
        if (cublasNanos < 0) {
            return Path.KERNEL;
        }
        return kernelNanos >= 0 && kernelNanos < cublasNanos ? Path.KERNEL : Path.CUBLAS;
    }

    /** cuBLAS takes 32-bit sizes and leading dimensions (LP64 build): larger calls go to gemm.cl. */
    static boolean fitsInt(GemmCall c) {
        long max = Integer.MAX_VALUE;
        return c.m() <= max && c.n() <= max && c.k() <= max && c.lda() <= max && c.ldb() <= max && c.ldc() <= max && c.batchCount() <= max;
    }

    /**
     * Why cublasGemmEx cannot take {@code c}, or null when it can. Only I8 has rules: cuBLAS has no zero
     * points, and its int8 path (CUBLAS_COMPUTE_32I) is documented for A and B 32-bit aligned, lda and
     * ldb multiples of 4, and alpha and beta 0 or 1 — kept as written even where a newer cuBLAS may
     * relax them, since gemm.cl gives the same exact result. Device allocations are 256-byte aligned,
     * so alignment comes down to element offsets and batch strides (1 byte per element).
     */
    static String cublasRefusal(GemmCall c) {
        if (c.inputType() != DType.I8) {
            return null;
        }
        if (c.zeroPointA() != 0 || c.zeroPointB() != 0) {
            return "zero points (cuBLAS has none)";
        }
        if (c.lda() % 4 != 0 || c.ldb() % 4 != 0) {
            return "int8 needs lda and ldb multiples of 4, got " + c.lda() + " and " + c.ldb();
        }
        if (c.offsetA() % 4 != 0 || c.offsetB() % 4 != 0 || (c.batchCount() > 1 && (c.strideA() % 4 != 0 || c.strideB() % 4 != 0))) {
            return "int8 needs A and B 32-bit aligned (offsets and batch strides multiples of 4 elements)";
        }
        if ((c.alpha() != 0 && c.alpha() != 1) || (c.beta() != 0 && c.beta() != 1)) {
            return "int8 is documented for alpha and beta 0 or 1, got " + (long) c.alpha() + " and " + (long) c.beta();
        }
        return null;
    }

    /**
     * Why cublasGemmGroupedBatchedEx cannot take the groups {@code calls} (one type pair per cuBLAS call),
     * or null when it can. Its documented types are F32, F64, BF16 and F16 with C of the input's own type
     * (no mixed pairs, no int8); sizes and leading dimensions are 32-bit; 16-bit inputs want their
     * pointers 16-byte aligned where a column of k elements is (else 4-byte where that is). Groups with
     * k == 0 (C := beta·C, exact +0 for beta == 0) stay on gemm.cl, which defines that case exactly.
     * The choice depends on the call only, never on timing, so an identical call always takes the same
     * routine and gives the same bits.
     */
    static String cublasGroupedRefusal(List<GemmCall> calls) {
        long problems = 0;
        for (GemmCall c : calls) {
            if (c.inputType() != c.dtype() || c.inputType() == DType.I8) {
                return "cublasGemmGroupedBatchedEx has no " + c.inputType().label() + " -> " + c.dtype().label() + " pair";
            }
            if (c.dtype() != calls.getFirst().dtype()) {
                return "groups of different types";
            }
            if (!fitsInt(c)) {
                return "sizes beyond 32 bits";
            }
            if (c.k() == 0) {
                return "a group with k == 0";
            }
            long es = c.inputType().byteSize();
            if (es == 2) {
                long align = (c.k() * es) % 16 == 0 ? 8 : (c.k() * es) % 4 == 0 ? 2 : 1; // in elements
                boolean strided = c.batchCount() > 1;
                if (c.offsetA() % align != 0 || c.offsetB() % align != 0 || c.offsetC() % align != 0
                        || (strided && (c.strideA() % align != 0 || c.strideB() % align != 0 || c.strideC() % align != 0))) {
                    return "a 16-bit group's pointers are not " + align * es + "-byte aligned";
                }
            }
            problems += c.batchCount();
        }
        return problems > Integer.MAX_VALUE ? "more than 2^31-1 problems" : null;
    }

    /** Whether the groups {@code calls} go to cublasGemmGroupedBatchedEx: it is there, the mode allows it, and it takes them. */
    boolean groupedByCublas(List<GemmCall> calls, boolean cublasGrouped) {
        return cublasGrouped && mode != Mode.KERNEL && cublasGroupedRefusal(calls) == null;
    }

    /** The minimum of {@code runs} timings of {@code run}, after one untimed run; negative if it cannot run. */
    static long time(int runs, ToLongFunction<Integer> run) {
        if (run.applyAsLong(-1) < 0) {
            return -1;
        }
        long best = Long.MAX_VALUE;
        for (int i = 0; i < runs; i++) {
            best = Math.min(best, run.applyAsLong(i));
        }
        return best;
    }
}
