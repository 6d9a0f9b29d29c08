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
 * All-to-all-v (F32, the same block to every peer) across the processes of an mpirun job through
 * KernelBridge's world communicator, timed exactly as the C peer
 * (jmh-bench/src/main/c/mpi_alltoallv_peer.c) times plain MPI_Alltoallv, and for the reason
 * {@link MpiAllReduceRatio} gives: not JMH. The first call of each size is checked element for
 * element. Usage: ROUNDS CALLS BYTES_PER_PEER...
 */
public final class MpiAllToAllRatio {
    private MpiAllToAllRatio() { }

    public static void main(String[] args) {
        int rounds = Integer.parseInt(args[0]), calls = Integer.parseInt(args[1]);
        try (KernelBridge bridge = KernelBridge.open(Config.fromEnvironment().with(Config.BACKEND, "cpu"))) {
            var cpu = bridge.device("cpu:0");
            Communicator comm = bridge.worldCommunicator(cpu);
            int size = comm.size(), rank = comm.rank();
            try (DeviceBuffer one = bridge.allocate(cpu, DType.F32, 1)) {
                // Warm the Java path on small calls until C2 has compiled it, as MpiAllReduceRatio does.
                try (DeviceBuffer send = bridge.allocate(cpu, DType.F32, 256L * size); DeviceBuffer recv = bridge.allocate(cpu, DType.F32, 256L * size)) {
                    for (int w = 0; w < 10_000; w++) {
                        exchange(comm, send, recv, 256);
                    }
                }
                for (int s = 2; s < args.length; s++) {
                    long bytes = Long.parseLong(args[s]);
                    long count = bytes / 4, total = count * size;
                    try (DeviceBuffer send = bridge.allocate(cpu, DType.F32, total); DeviceBuffer recv = bridge.allocate(cpu, DType.F32, total)) {
                        float[] values = new float[(int) total];
                        for (int i = 0; i < values.length; i++) {
                            values[i] = (i * 7L + rank * 13L) % 17;
                        }
                        send.copyFrom(values);
                        exchange(comm, send, recv, count);
                        check(recv.toFloatArray(), rank, size, count);
                        for (int w = 0; w < calls; w++) { // the same warm-up as the C peer
                            exchange(comm, send, recv, count);
                        }
                        double[] perCall = new double[rounds];
                        for (int r = 0; r < rounds; r++) {
                            comm.allReduce(one, one, 1, ReduceOp.SUM); // barrier
                            long t0 = System.nanoTime();
                            for (int c = 0; c < calls; c++) {
                                exchange(comm, send, recv, count);
                            }
                            perCall[r] = (System.nanoTime() - t0) / 1e3 / calls;
                        }
                        Arrays.sort(perCall);
                        if (rank == 0) {
                            System.out.printf(Locale.ROOT, "{\"ranks\": %d, \"bytes\": %d, \"us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f}%n",
                                    size, bytes, perCall[rounds / 2], perCall[0], perCall[rounds - 1]);
                        }
                    }
                }
            }
            comm.close();
        }
    }

    private static void exchange(Communicator comm, DeviceBuffer send, DeviceBuffer recv, long count) {
        long[] counts = new long[comm.size()], displs = new long[comm.size()];
        for (int p = 0; p < counts.length; p++) {
            counts[p] = count;
            displs[p] = p * count;
        }
        comm.allToAllV(send, counts, displs, recv, counts, displs);
    }

    /** Block p of recv is block {@code rank} of rank p's send. */
    private static void check(float[] got, int rank, int size, long count) {
        for (int p = 0; p < size; p++) {
            for (long e = 0; e < count; e++) {
                long i = rank * count + e;
                float want = (i * 7L + p * 13L) % 17;
                if (got[(int) (p * count + e)] != want) {
                    throw new IllegalStateException("allToAllV over MPI: rank " + rank + " has " + got[(int) (p * count + e)] + " at element " + e
                            + " of the block from rank " + p + ", expected " + want);
                }
            }
        }
    }
}
