package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.*;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One rank's share of a reduction on its device, with the kernels of reduce.cl. The share of
 * every buffer is addressed through a sub-buffer, so that several devices of one context work on
 * disjoint parts of the same buffers, which OpenCL defines (concurrent use of overlapping buffer
 * objects it does not). F32, F64 and I32 accumulate in the first output; BF16 and F16 in an F32
 * buffer of the call's own, rounded once into the first output at the end. Called under the device
 * lock.
 */
final class ReduceLauncher {
    private ReduceLauncher() { }

    static void run(OpenClDevice device, OpenClProgram program, ReduceOp op, DType dtype, List<BackendBuffer> inputs, long inOffset,
                    List<BackendBuffer> outputs, long outOffset, long count) {
        long bytes = count * dtype.byteSize();
        boolean narrow = dtype.isNarrowFloat();
        Map<String, Long> subs = new LinkedHashMap<>();
        long wide = 0; // the F32 accumulator of a narrow reduction
        try {
            List<Long> in = new ArrayList<>(), out = new ArrayList<>();
            for (BackendBuffer b : inputs) {
                in.add(subBuffer(device, subs, (OpenClBuffer) b, inOffset, bytes));
            }
            for (BackendBuffer b : outputs) {
                out.add(subBuffer(device, subs, (OpenClBuffer) b, outOffset, bytes));
            }
            OpenClQueue queue = device.commandQueue();
            long acc = out.getFirst();
            if (narrow && in.size() > 1) {
                acc = wide = device.createBuffer(count * 4);
            }
            int code = switch (op) {
                case SUM, AVG -> 0;
                case PROD -> 1;
                case MIN -> 2;
                case MAX -> 3;
            };
            long[] global = {count};
            if (in.size() == 1) { // copied; a narrow avg of one input is that input, a wide one still divides by 1 as the host does
                copy(device, in.getFirst(), out.getFirst(), bytes);
            } else {
                long first = program.kernel("reduce_first");
                new KernelArgs(first, device.id(), "reduce_first").i32(code).u64(acc).u64(in.get(0)).u64(in.get(1));
                queue.launch(first, "reduce_first", global, null);
                long next = program.kernel("reduce_next");
                for (int r = 2; r < in.size(); r++) {
                    new KernelArgs(next, device.id(), "reduce_next").i32(code).u64(acc).u64(in.get(r));
                    queue.launch(next, "reduce_next", global, null);
                }
            }
            if (narrow && in.size() > 1) {
                long round = program.kernel("reduce_round");
                new KernelArgs(round, device.id(), "reduce_round").u64(out.getFirst()).u64(acc).i32(op == ReduceOp.AVG ? in.size() : 0);
                queue.launch(round, "reduce_round", global, null);
            } else if (op == ReduceOp.AVG && !narrow) {
                long divide = program.kernel("reduce_divide");
                new KernelArgs(divide, device.id(), "reduce_divide").u64(acc).i32(in.size());
                queue.launch(divide, "reduce_divide", global, null);
            }
            for (int j = 1; j < out.size(); j++) {
                copy(device, out.getFirst(), out.get(j), bytes);
            }
            queue.finish("reduction");
        } finally {
            subs.values().forEach(org.lwjgl.opencl.CL10::clReleaseMemObject);
            if (wide != 0) {
                clReleaseMemObject(wide);
            }
        }
    }

    private static void copy(OpenClDevice device, long from, long to, long bytes) {
        if (from != to) {
            ClErrors.check(nclEnqueueCopyBuffer(device.queue(), from, to, 0, 0, bytes, 0, 0, 0), device.id(), "clEnqueueCopyBuffer");
        }
    }

    /** One sub-buffer per (buffer, offset): the same bytes are never two buffer objects in one call. */
    private static long subBuffer(OpenClDevice device, Map<String, Long> subs, OpenClBuffer parent, long offset, long bytes) {
        String key = parent.mem() + "@" + offset;
        Long existing = subs.get(key);
        if (existing != null) {
            return existing;
        }
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment region = arena.allocateFrom(ValueLayout.JAVA_LONG, offset, bytes);
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            long sub = org.lwjgl.opencl.CL11.nclCreateSubBuffer(parent.mem(), CL_MEM_READ_WRITE,
                    org.lwjgl.opencl.CL11.CL_BUFFER_CREATE_TYPE_REGION, region.address(), err.address());
            ClErrors.check(err.get(ValueLayout.JAVA_INT, 0), device.id(), "clCreateSubBuffer");
            subs.put(key, sub);
            return sub;
        }
    }
}
