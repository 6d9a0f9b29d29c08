package dev.kernelbridge.opencl;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.GroupedGemmTable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Runs a checked GEMM with the kernels of gemm.cl: pack op(A) and op(B) into zero-padded panels of
 * the compute type (narrow inputs widen there, zero points are subtracted there), multiply panel
 * pairs, write C; or scale C when k == 0. Batches are split into chunks whose packed operands fit
 * the packing limit. The program must be the build for the call's type pair. Grouped GEMMs run
 * {@link #runGrouped}: the same steps for every group at once. Called under the device lock.
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

    /**
     * One launch of a grouped GEMM ({@link GroupedGemmTable}): uploads its table and scalars, packs
     * op(A) and op(B) of every group with one packing launch each (a box of groups, or a row search), and multiplies every
     * group's tiles with one gemm_grouped launch. The program must be the launch's build.
     */
    static void runGrouped(OpenClDevice device, OpenClDevice.Gemm gemm, GroupedGemmTable.Launch launch) {
        long es = launch.variant().computeType().byteSize();
        OpenClQueue queue = device.commandQueue();
        long table, scalars;
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment t = launch.tableBytes(arena), s = launch.scalarBytes(arena);
            table = device.packingBuffer(2, t.byteSize());
            scalars = device.packingBuffer(3, s.byteSize());
            queue.write(table, t, "grouped GEMM table");
            queue.write(scalars, s, "grouped GEMM scalars");
        }
        long bufA = device.packingBuffer(0, Math.max(es, launch.packedA() * es)), bufB = device.packingBuffer(1, Math.max(es, launch.packedB() * es));
        long multiply = gemm.program().kernel("gemm_grouped");
        long[][] slots = {launch.aSlots(), launch.bSlots()};
        long[] packed = {bufA, bufB};
        for (int operand = 0; operand < 2; operand++) {
            long[] range = launch.packRange(operand);
            if (range[0] * range[1] == 0) {
                continue; // every group has k == 0: nothing to pack (an empty range is an error in OpenCL)
            }
            String name = launch.packKernel(operand);
            long pack = gemm.program().kernel(name);
            KernelArgs args = new KernelArgs(pack, device.id(), name).u64(table);
            if (!launch.boxed(operand)) {
                args.u64(launch.groups());
            }
            args.i32(operand);
            for (long slot : slots[operand]) {
                args.u64(slot);
            }
            args.u64(packed[operand]);
            queue.launch(pack, name, range, null);
        }
        int wg = launch.parameters().wg();
        KernelArgs args = new KernelArgs(multiply, device.id(), "gemm_grouped").u64(table).u64(launch.groups()).u64(scalars)
                .u64(bufA).u64(bufB);
        for (long slot : launch.cSlots()) {
            args.u64(slot);
        }
        queue.launch(multiply, "gemm_grouped", new long[] {launch.tiles() * wg, 1, 1}, new long[] {wg, 1, 1});
        queue.finish("grouped gemm");
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
