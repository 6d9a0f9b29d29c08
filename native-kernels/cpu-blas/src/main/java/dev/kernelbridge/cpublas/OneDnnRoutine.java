package dev.kernelbridge.cpublas;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * F32, BF16 → F32 and I8 → I32 GEMM through oneDNN's BLAS-like functions (2.x). oneDNN is row-major:
 * a column-major C = op(A)·op(B) is the row-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so A and B (and their
 * transposes, leading dimensions and zero points) trade places. It refuses what it would not compute
 * exactly as our contract says: other type pairs (no BF16 or F16 C, no F16 input, no F64), k = 0, short
 * leading dimensions, and I8 with alpha ≠ 1 or beta ∉ {0, 1} (oneDNN scales integer results in F32,
 * which would round; with 1 and 0/1 it sums in I32, wrapping as ours does).
 */
final class OneDnnRoutine extends NativeGemmRoutine {
    static final String NAME = "onednn";

    private final OneDnn lib;
    private final int threads;
    private final String description;

    OneDnnRoutine(OneDnn lib, int threads) {
        this.lib = lib;
        this.threads = threads;
        this.description = lib.describe() + ", " + threads + " OpenMP threads";
    }

    @Override
    public String name() { return NAME; }

    @Override
    public String description() { return description; }

    @Override
    public String refusal(GemmCall call) {
        DType in = call.inputType(), out = call.dtype();
        boolean f32 = in == DType.F32 && out == DType.F32, bf16 = in == DType.BF16 && out == DType.F32, i8 = in == DType.I8 && out == DType.I32;
        if (!f32 && !bf16 && !i8) {
            return "oneDNN's GEMMs take F32, BF16 -> F32 and I8 -> I32, not " + in.label() + " -> " + out.label();
        }
        if (call.k() == 0) {
            return "k = 0 (C := beta·C) stays with the Vector API kernels";
        }
        if (i8 && (call.alpha() != 1 || (call.beta() != 0 && call.beta() != 1))) {
            return "I8 with alpha " + (long) call.alpha() + " and beta " + (long) call.beta() + ": oneDNN scales by them in F32, which rounds";
        }
        return shortLeadingDimension(call);
    }

    @Override
    void runItems(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, boolean heap) {
        long in = call.inputType().byteSize(), out = call.dtype().byteSize();
        byte ta = call.transA() == Transpose.NO_TRANS ? OneDnn.NO_TRANS : OneDnn.TRANS;
        byte tb = call.transB() == Transpose.NO_TRANS ? OneDnn.NO_TRANS : OneDnn.TRANS;
        boolean i8 = call.inputType() == DType.I8;
        MethodHandle floating = call.inputType() == DType.BF16 ? (heap ? lib.bf16Heap : lib.bf16) : (heap ? lib.sgemmHeap : lib.sgemm);
        MethodHandle integer = heap ? lib.s8s8Heap : lib.s8s8;
        try {
            lib.setThreads.invokeExact(threads); // OpenMP's count is per calling thread
            for (long item = 0; item < call.batchCount(); item++) {
                MemorySegment ai = at(a, (call.offsetA() + item * call.strideA()) * in);
                MemorySegment bi = at(b, (call.offsetB() + item * call.strideB()) * in);
                MemorySegment ci = at(c, (call.offsetC() + item * call.strideC()) * out);
                int status;
                if (i8) { // row-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B first, its zero point as "ao"
                    status = (int) integer.invokeExact(tb, ta, OneDnn.FIXED_OFFSET, call.n(), call.m(), call.k(), (float) call.alpha(),
                            bi, call.ldb(), (byte) call.zeroPointB(), ai, call.lda(), (byte) call.zeroPointA(), (float) call.beta(), ci, call.ldc(),
                            lib.zeroOffset);
                } else {
                    status = (int) floating.invokeExact(tb, ta, call.n(), call.m(), call.k(), (float) call.alpha(), bi, call.ldb(), ai, call.lda(),
                            (float) call.beta(), ci, call.ldc());
                }
                if (status != 0) {
                    throw new IllegalStateException("oneDNN GEMM of " + call.inputType().label() + " -> " + call.dtype().label()
                            + " returned dnnl_status_t " + status);
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("oneDNN GEMM failed", t);
        }
    }
}
