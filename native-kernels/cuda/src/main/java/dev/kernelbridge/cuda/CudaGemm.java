package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.GroupedGemmTable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The host side of gemm.cl on CUDA, the same steps as the OpenCL launcher: pack op(A) and op(B) into
 * zero-padded panels of the compute type (narrow inputs widen, zero points are subtracted), multiply
 * panel pairs, write C; or scale C when k == 0. The module must be the build for the call's type pair. Every OpenCL range runs
 * as a 1-D grid: its three sizes go to the module's {@code kb_ndrange} on the stream just before the
 * launch (see kernelbridge_compat.h). Launches are only queued: the caller synchronises the stream once
 * per GEMM. Called under the device lock.
 */
final class CudaGemm {
    /** Threads per block where a kernel has no work-group shape of its own. */
    static final int BLOCK = 128;

    private CudaGemm() { }

    /** Runs {@code call} with the kernels of {@code module}, shaped by the parameters it was built with. */
    static void run(CudaDevice device, CudaModule module, GemmCall call) {
        int mr = module.parameters.mr(), nr = module.parameters.nr(), wg = module.parameters.wg();
        DType scalar = call.inputType().computeType(); // alpha, beta and the packed panels
        long c = ((CudaBuffer) call.c()).pointer;
        if (call.k() == 0) {
            launch(device, module, "scale_c", new long[] {call.m(), call.n(), call.batchCount()}, BLOCK,
                    args -> args.scalar(scalar, call.beta()).u64(c).u64(call.offsetC()).u64(call.ldc()).u64(call.strideC()));
            return;
        }
        long es = scalar.byteSize();
        long mPanels = ceilDiv(call.m(), mr), nPanels = ceilDiv(call.n(), nr);
        long packedA = mPanels * mr * call.k() * es, packedB = nPanels * nr * call.k() * es;
        long chunk = Math.max(1, Math.min(call.batchCount(), device.packingLimit() / Math.max(packedA, packedB)));
        long bufA = device.packingBuffer(0, chunk * packedA), bufB = device.packingBuffer(1, chunk * packedB);
        long a = ((CudaBuffer) call.a()).pointer, b = ((CudaBuffer) call.b()).pointer;
        for (long first = 0; first < call.batchCount(); first += chunk) {
            long items = Math.min(chunk, call.batchCount() - first), f = first;
            launch(device, module, "pack_panels", new long[] {mPanels * mr, call.k(), items}, BLOCK,
                    args -> args.u64(call.m()).u64(call.k()).i32(mr).i32(call.transA() == Transpose.NO_TRANS ? 0 : 1)
                            .u64(a).u64(call.offsetA() + f * call.strideA()).u64(call.lda()).u64(call.strideA()).i32(call.zeroPointA()).u64(bufA));
            // op(B) is packed by columns: its "rows" are the n columns, and untransposed B is read across ldb.
            launch(device, module, "pack_panels", new long[] {nPanels * nr, call.k(), items}, BLOCK,
                    args -> args.u64(call.n()).u64(call.k()).i32(nr).i32(call.transB() == Transpose.NO_TRANS ? 1 : 0)
                            .u64(b).u64(call.offsetB() + f * call.strideB()).u64(call.ldb()).u64(call.strideB()).i32(call.zeroPointB()).u64(bufB));
            launch(device, module, "gemm_packed", new long[] {ceilDiv(nPanels, wg) * wg, mPanels, items}, wg,
                    args -> args.u64(call.m()).u64(call.n()).u64(call.k()).scalar(scalar, call.alpha()).scalar(scalar, call.beta())
                            .u64(bufA).u64(bufB).u64(c).u64(call.offsetC() + f * call.strideC()).u64(call.ldc()).u64(call.strideC()));
        }
    }

    /**
     * One launch of a grouped GEMM ({@link GroupedGemmTable}), as the OpenCL launcher runs it: the table
     * and scalars copied to the device, one packing launch per operand, one gemm_grouped over every
     * group's tiles. {@code arena} holds the host copies until the caller has synchronised the stream.
     */
    static void runGrouped(CudaDevice device, CudaModule module, GroupedGemmTable.Launch launch, Arena arena) {
        long es = launch.variant().computeType().byteSize();
        MemorySegment t = launch.tableBytes(arena), s = launch.scalarBytes(arena);
        long table = device.packingBuffer(2, t.byteSize()), scalars = device.packingBuffer(3, s.byteSize());
        CudaDriver cu = device.driver();
        device.check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(table, t, t.byteSize(), device.stream()));
        device.check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(scalars, s, s.byteSize(), device.stream()));
        long bufA = device.packingBuffer(0, Math.max(es, launch.packedA() * es)), bufB = device.packingBuffer(1, Math.max(es, launch.packedB() * es));
        long[][] slots = {launch.aSlots(), launch.bSlots()};
        long[] packed = {bufA, bufB};
        for (int operand = 0; operand < 2; operand++) {
            int o = operand;
            launch(device, module, launch.packKernel(o), launch.packRange(o), BLOCK, args -> {
                args.u64(table);
                if (!launch.boxed(o)) {
                    args.u64(launch.groups());
                }
                args.i32(o);
                for (long slot : slots[o]) {
                    args.u64(slot);
                }
                args.u64(packed[o]);
            });
        }
        int wg = launch.parameters().wg();
        launch(device, module, "gemm_grouped", new long[] {launch.tiles() * wg, 1, 1}, wg, args -> {
            args.u64(table).u64(launch.groups()).u64(scalars).u64(bufA).u64(bufB);
            for (long slot : launch.cSlots()) {
                args.u64(slot);
            }
        });
    }

    /** Kernel arguments in order, each in native memory, as cuLaunchKernel's kernelParams wants them. */
    static final class Args {
        private final Arena arena;
        private final List<MemorySegment> values = new ArrayList<>();

        Args(Arena arena) { this.arena = arena; }

        Args u64(long v) { return add(arena.allocateFrom(ValueLayout.JAVA_LONG, v)); }

        Args i32(int v) { return add(arena.allocateFrom(ValueLayout.JAVA_INT, v)); }

        /** A scalar of gemm.cl's compute type: double (F64), int bits (I32: the kernel's uint), else float. */
        Args scalar(DType computeType, double v) {
            return add(switch (computeType) {
                case F64 -> arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
                case I32 -> arena.allocateFrom(ValueLayout.JAVA_INT, (int) v);
                default -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) v);
            });
        }

        private Args add(MemorySegment s) {
            values.add(s);
            return this;
        }

        MemorySegment pointers() {
            MemorySegment p = arena.allocate(ValueLayout.ADDRESS, values.size());
            for (int i = 0; i < values.size(); i++) {
                p.setAtIndex(ValueLayout.ADDRESS, i, values.get(i));
            }
            return p;
        }
    }

    /** The geometry of one launch: blocks of a 1-D grid covering the range, block size dividing size[0] when it is a work-group. */
    static long blocks(long[] range, int block) {
        long total = Math.multiplyExact(Math.multiplyExact(range[0], range[1]), range[2]);
        long blocks = ceilDiv(total, block);
        if (blocks > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException("a launch of " + total + " threads exceeds CUDA's grid limit (2^31-1 blocks of " + block + ")");
        }
        return blocks;
    }

    private static void launch(CudaDevice device, CudaModule module, String kernel, long[] range, int block,
                               java.util.function.Consumer<Args> arguments) {
        long blocks = blocks(range, block);
        if (blocks == 0) {
            return;
        }
        CudaDriver cu = device.driver();
        try (Arena a = NativeMemory.confined()) {
            // The range goes to the module's kb_ndrange on the stream, from a page-locked slot that stays put until the copy runs.
            MemorySegment size = device.rangeSlot();
            for (int d = 0; d < 3; d++) {
                size.setAtIndex(ValueLayout.JAVA_LONG, d, range[d]);
            }
            device.check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(module.ndrange, size, 24L, device.stream()));
            Args args = new Args(a);
            arguments.accept(args);
            // The driver copies kernelParams when the launch is queued: the arena may go when this returns.
            device.check("cuLaunchKernel " + kernel, cu.launchKernel(module.function(device, kernel), (int) blocks, block,
                    device.stream(), args.pointers()));
        }
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
