package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.util.Arrays;
import java.util.Locale;

/**
 * All-reduce (F32 sum) across the processes of an mpirun job through KernelBridge's world
 * communicator, timed exactly as the C peer (jmh-bench/src/main/c/mpi_allreduce_peer.c) times plain
 * MPI_Allreduce: per size, a warm-up, then ROUNDS rounds of CALLS calls, each round started by a
 * barrier (a one-element all-reduce); rank 0 prints one JSON line per size with the median time per
 * call. Not JMH: JMH's iterations cannot be held in lockstep across processes, and a rank that
 * starts an iteration late would be timed as MPI's cost. Usage: ROUNDS CALLS BYTES...
 */
public final class MpiAllReduceRatio {
    private MpiAllReduceRatio() { }

    public static void main(String[] args) {
        int rounds = Integer.parseInt(args[0]), calls = Integer.parseInt(args[1]);
        try (KernelBridge bridge = KernelBridge.open(Config.fromEnvironment().with(Config.BACKEND, "cpu"))) {
            var cpu = bridge.device("cpu:0");
            Communicator comm = bridge.worldCommunicator(cpu);
            try (DeviceBuffer one = bridge.allocate(cpu, DType.F32, 1); DeviceBuffer small = bridge.allocate(cpu, DType.F32, 1024)) {
                // The JIT compiles the same Java path for every size: warm it once, on small calls,
                // until C2 is done with it (its thresholds are thousands of calls), then time.
                for (int w = 0; w < 10_000; w++) {
                    comm.allReduce(small, small, 1024, ReduceOp.SUM);
                }
                for (int s = 2; s < args.length; s++) {
                    long bytes = Long.parseLong(args[s]);
                    long count = bytes / 4;
                    try (DeviceBuffer send = bridge.allocate(cpu, DType.F32, count); DeviceBuffer recv = bridge.allocate(cpu, DType.F32, count)) {
                        float[] values = new float[(int) count];
                        for (int i = 0; i < values.length; i++) {
                            values[i] = (i * 7 + comm.rank() * 13) % 17;
                        }
                        send.copyFrom(values);
                        for (int w = 0; w < calls; w++) { // the same warm-up as the C peer
                            comm.allReduce(send, recv, count, ReduceOp.SUM);
                        }
                        double[] perCall = new double[rounds];
                        for (int r = 0; r < rounds; r++) {
                            comm.allReduce(one, one, 1, ReduceOp.SUM); // barrier
                            long t0 = System.nanoTime();
                            for (int c = 0; c < calls; c++) {
                                comm.allReduce(send, recv, count, ReduceOp.SUM);
                            }
                            perCall[r] = (System.nanoTime() - t0) / 1e3 / calls;
                        }
                        Arrays.sort(perCall);
                        if (comm.rank() == 0) {
                            System.out.printf(Locale.ROOT, "{\"ranks\": %d, \"bytes\": %d, \"us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f}%n",
                                    comm.size(), bytes, perCall[rounds / 2], perCall[0], perCall[rounds - 1]);
                        }
                    }
                }
            }
            comm.close();
        }
    }
}
