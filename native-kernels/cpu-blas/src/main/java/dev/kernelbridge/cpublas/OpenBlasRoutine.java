package dev.kernelbridge.cpublas;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * F32 and F64 GEMM through OpenBLAS's CBLAS, column-major like {@link GemmCall}, one call per batch
 * item. It takes what CBLAS defines exactly as our contract does and refuses the rest: other type
 * pairs (Debian's OpenBLAS 0.3.21 exports no SBGEMM), k = 0, sizes beyond 32-bit ints, and leading
 * dimensions below CBLAS's minimum (CBLAS rejects those with an error printed to stderr). With
 * beta = 0, OpenBLAS zeroes C before accumulating, so NaN in C never survives, as our contract says.
 */
final class OpenBlasRoutine extends NativeGemmRoutine {
    static final String NAME = "openblas";

    private final OpenBlas lib;
    private final String description;
    private final int threads;
    /** The team OpenBLAS has now; changed under the routines' one-call-at-a-time lock. */
    private int team;

    OpenBlasRoutine(OpenBlas lib, int threads) {
        this.lib = lib;
        this.threads = threads;
        this.team = threads;
        lib.setThreads(threads);
        this.description = lib.config() + " (" + lib.coreName() + " kernels, " + threads + " threads)";
    }

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return description; }

    @Override
    public String refusal(GemmCall call) {
        if (call.inputType() != call.dtype() || (call.dtype() != DType.F32 && call.dtype() != DType.F64)) {
            return "CBLAS has no " + call.inputType().label() + " -> " + call.dtype().label() + " GEMM";
        }
        if (call.k() == 0) {
            return "k = 0 (C := beta·C) stays with the Vector API kernels";
        }
        long max = Integer.MAX_VALUE;
        if (call.m() > max || call.n() > max || call.k() > max || call.lda() > max || call.ldb() > max || call.ldc() > max) {
            return "sizes or leading dimensions beyond CBLAS's 32-bit ints";
        }
        return shortLeadingDimension(call);
    }

    @Override
    void runItems(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, boolean heap) {
        long es = call.dtype().byteSize();
        int ta = call.transA() == Transpose.NO_TRANS ? OpenBlas.NO_TRANS : OpenBlas.TRANS;
        int tb = call.transB() == Transpose.NO_TRANS ? OpenBlas.NO_TRANS : OpenBlas.TRANS;
        int m = (int) call.m(), n = (int) call.n(), k = (int) call.k();
        int lda = (int) call.lda(), ldb = (int) call.ldb(), ldc = (int) call.ldc();
        MethodHandle sgemm = heap ? lib.sgemmHeap : lib.sgemm, dgemm = heap ? lib.dgemmHeap : lib.dgemm;
        // A team no larger than the cores free now (see FreeCores). OpenBLAS splits GEMM over M and N,
        // never K, so each element of C is the same sum whatever the team: the bits do not change.
        int now = FreeCores.forTeamOf(threads);
        if (now != team) {
            lib.setThreads(now);
            team = now;
        }
        try {
            for (long item = 0; item < call.batchCount(); item++) {
                MemorySegment ai = at(a, (call.offsetA() + item * call.strideA()) * es);
                MemorySegment bi = at(b, (call.offsetB() + item * call.strideB()) * es);
                MemorySegment ci = at(c, (call.offsetC() + item * call.strideC()) * es);
                if (call.dtype() == DType.F32) {
                    sgemm.invokeExact(OpenBlas.COL_MAJOR, ta, tb, m, n, k, (float) call.alpha(), ai, lda, bi, ldb, (float) call.beta(), ci, ldc);
                } else {
                    dgemm.invokeExact(OpenBlas.COL_MAJOR, ta, tb, m, n, k, call.alpha(), ai, lda, bi, ldb, call.beta(), ci, ldc);
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_" + (call.dtype() == DType.F32 ? "s" : "d") + "gemm failed", t);
        }
    }
}
