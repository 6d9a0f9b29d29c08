package dev.kernelbridge.opencl;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.tuning.GemmParameters;

/**
 * Runs a checked GEMM with the kernels of gemm.cl: pack op(A) and op(B) into zero-padded panels of
 * the compute type (narrow inputs widen there, zero points are subtracted there), multiply panel
 * pairs, write C; or scale C when k == 0. Batches are split into chunks whose packed operands fit
 * the packing limit. The program must be the build for the call's type pair. Called under the
 * device lock.
 */
final class GemmLauncher {
    private GemmLauncher() { }

    static void run(OpenClDevice device, OpenClDevice.Gemm gemm, GemmCall call) {
        DType scalar = call.inputType().computeType(); // alpha, beta and the packed panels
        OpenClBuffer c = (OpenClBuffer) call.c();
        OpenClQueue queue = device.commandQueue();
        if (call.k() == 0) {
            long kernel = gemm.program().kernel("scale_c");
            new KernelArgs(kernel, device.id(), "scale_c").scalar(scalar, call.beta()).u64(c.mem()).u64(call.offsetC())
                    .u64(call.ldc()).u64(call.strideC());
            queue.launch(kernel, "scale_c", new long[] {call.m(), call.n(), call.batchCount()}, null);
            queue.finish("scale_c");
            return;
        }
        GemmParameters p = gemm.parameters();
        long es = scalar.byteSize();
        long mPanels = ceilDiv(call.m(), p.mr()), nPanels = ceilDiv(call.n(), p.nr());
        long packedA = mPanels * p.mr() * call.k() * es, packedB = nPanels * p.nr() * call.k() * es;
        long perItem = Math.max(packedA, packedB);
        if (perItem > device.maxAllocation()) {
            throw new DeviceOutOfMemoryException(device.id(), ClErrors.CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE",
                    "a packed operand of " + perItem + " bytes exceeds the largest single allocation ("
                            + device.maxAllocation() + " bytes); split k");
        }
        long chunk = Math.max(1, Math.min(call.batchCount(), device.packingLimit() / perItem));
        long bufA = device.packingBuffer(0, chunk * packedA), bufB = device.packingBuffer(1, chunk * packedB);
        long packKernel = gemm.program().kernel("pack_panels"), gemmKernel = gemm.program().kernel("gemm_packed");
        OpenClBuffer a = (OpenClBuffer) call.a(), b = (OpenClBuffer) call.b();
        for (long first = 0; first < call.batchCount(); first += chunk) {
            long items = Math.min(chunk, call.batchCount() - first);
            new KernelArgs(packKernel, device.id(), "pack_panels").u64(call.m()).u64(call.k()).i32(p.mr())
                    .i32(call.transA() == Transpose.NO_TRANS ? 0 : 1)
                    .u64(a.mem()).u64(call.offsetA() + first * call.strideA()).u64(call.lda()).u64(call.strideA()).i32(call.zeroPointA()).u64(bufA);
            queue.launch(packKernel, "pack_panels", new long[] {mPanels * p.mr(), call.k(), items}, null);
            // op(B) is packed by columns: its "rows" are the n columns, and untransposed B is read across ldb.
            new KernelArgs(packKernel, device.id(), "pack_panels").u64(call.n()).u64(call.k()).i32(p.nr())
                    .i32(call.transB() == Transpose.NO_TRANS ? 1 : 0)
                    .u64(b.mem()).u64(call.offsetB() + first * call.strideB()).u64(call.ldb()).u64(call.strideB()).i32(call.zeroPointB()).u64(bufB);
            queue.launch(packKernel, "pack_panels", new long[] {nPanels * p.nr(), call.k(), items}, null);
            new KernelArgs(gemmKernel, device.id(), "gemm_packed").u64(call.m()).u64(call.n()).u64(call.k())
                    .scalar(scalar, call.alpha()).scalar(scalar, call.beta()).u64(bufA).u64(bufB)
                    .u64(c.mem()).u64(call.offsetC() + first * call.strideC()).u64(call.ldc()).u64(call.strideC());
            queue.launch(gemmKernel, "gemm_packed", new long[] {ceilDiv(nPanels, p.wg()) * p.wg(), mPanels, items},
                    new long[] {p.wg(), 1, 1});
            queue.finish("gemm");
        }
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
