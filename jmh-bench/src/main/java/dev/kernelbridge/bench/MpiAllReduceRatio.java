package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Locale;

/**
 * All-reduce (F32 sum) across the processes of an mpirun job through KernelBridge's world
 * communicator, timed exactly as the C peer (jmh-bench/src/main/c/mpi_allreduce_peer.c) times plain
 * MPI_Allreduce: per size, a warm-up, then ROUNDS rounds of CALLS calls, each round started by a
 * barrier (a one-element all-reduce); rank 0 prints one JSON line per size with the median time per
 * call. Not JMH: JMH's iterations cannot be held in lockstep across processes, and a rank that
 * starts an iteration late would be timed as MPI's cost.
 *
 * <p>Each round also times plain MPI_Allreduce called from this same JVM through FFM, on buffers of
 * its own, just before or after ours (alternating): on a 2-core VM whose scheduler moves unbound
 * ranks between cores, the same C call takes 160 µs or 700 µs at 1 MiB from one run to the next,
 * so only a peer timed in the same round tells our overhead from the machine's mood. {@code ffm_us}
 * is its median and {@code ratio} the median of the per-round ratios ours / it.
 * Usage: ROUNDS CALLS BYTES...
 */
public final class MpiAllReduceRatio {
    private MpiAllReduceRatio() { }

    public static void main(String[] args) throws Throwable {
        int rounds = Integer.parseInt(args[0]), calls = Integer.parseInt(args[1]);
        try (KernelBridge bridge = KernelBridge.open(Config.fromEnvironment().with(Config.BACKEND, "cpu"))) {
            var cpu = bridge.device("cpu:0");
            Communicator comm = bridge.worldCommunicator(cpu); // initialises MPI
            PlainAllReduce plain = new PlainAllReduce();
            try (DeviceBuffer one = bridge.allocate(cpu, DType.F32, 1); DeviceBuffer small = bridge.allocate(cpu, DType.F32, 1024)) {
                // The JIT compiles the same Java path for every size: warm it once, on small calls,
                // until C2 is done with it (its thresholds are thousands of calls), then time.
                for (int w = 0; w < 10_000; w++) {
                    comm.allReduce(small, small, 1024, ReduceOp.SUM);
                }
                for (int s = 2; s < args.length; s++) {
                    long bytes = Long.parseLong(args[s]);
                    long count = bytes / 4;
                    try (Arena arena = Arena.ofConfined();
                         DeviceBuffer send = bridge.allocate(cpu, DType.F32, count); DeviceBuffer recv = bridge.allocate(cpu, DType.F32, count)) {
                        float[] values = new float[(int) count];
                        for (int i = 0; i < values.length; i++) {
                            values[i] = (i * 7 + comm.rank() * 13) % 17;
                        }
                        send.copyFrom(values);
                        MemorySegment plainSend = arena.allocate(bytes, 64), plainRecv = arena.allocate(bytes, 64);
                        MemorySegment.copy(values, 0, plainSend, ValueLayout.JAVA_FLOAT, 0, values.length);
                        for (int w = 0; w < calls; w++) { // the same warm-up as the C peer, for both
                            comm.allReduce(send, recv, count, ReduceOp.SUM);
                            plain.run(plainSend, plainRecv, count);
                        }
                        double[] ours = new double[rounds], theirs = new double[rounds], ratio = new double[rounds];
                        for (int r = 0; r < rounds; r++) {
                            for (int side = 0; side < 2; side++) {
                                boolean ourTurn = (side == 0) == (r % 2 == 0);
                                comm.allReduce(one, one, 1, ReduceOp.SUM); // barrier
                                long t0 = System.nanoTime();
                                for (int c = 0; c < calls; c++) {
                                    if (ourTurn) {
                                        comm.allReduce(send, recv, count, ReduceOp.SUM);
                                    } else {
                                        plain.run(plainSend, plainRecv, count);
                                    }
                                }
                                (ourTurn ? ours : theirs)[r] = (System.nanoTime() - t0) / 1e3 / calls;
                            }
                            ratio[r] = ours[r] / theirs[r];
                        }
                        Arrays.sort(ours);
                        Arrays.sort(theirs);
                        Arrays.sort(ratio);
                        if (comm.rank() == 0) {
                            System.out.printf(Locale.ROOT, "{\"ranks\": %d, \"bytes\": %d, \"us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f,"
                                            + " \"ffm_us\": %.3f, \"ratio\": %.4f}%n",
                                    comm.size(), bytes, ours[rounds / 2], ours[0], ours[rounds - 1], theirs[rounds / 2], ratio[rounds / 2]);
                        }
                    }
                }
            }
            comm.close();
        }
    }

    /** MPI_Allreduce(F32, sum, MPI_COMM_WORLD) of Open MPI, bound directly: the same call the C peer makes. */
    private static final class PlainAllReduce {
        private final MethodHandle allreduce;
        private final MemorySegment world, f32, sum;

        PlainAllReduce() {
            SymbolLookup lib = SymbolLookup.libraryLookup("libmpi.so.40", Arena.global());
            allreduce = Linker.nativeLinker().downcallHandle(lib.findOrThrow("MPI_Allreduce"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            world = lib.findOrThrow("ompi_mpi_comm_world");
            f32 = lib.findOrThrow("ompi_mpi_float");
            sum = lib.findOrThrow("ompi_mpi_op_sum");
        }

        void run(MemorySegment send, MemorySegment recv, long count) throws Throwable {
            int code = (int) allreduce.invokeExact(send, recv, (int) count, f32, sum, world);
            if (code != 0) {
                throw new IllegalStateException("MPI_Allreduce returned " + code);
            }
        }
    }
}
