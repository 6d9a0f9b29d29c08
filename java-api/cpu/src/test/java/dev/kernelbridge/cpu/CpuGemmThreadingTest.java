package dev.kernelbridge.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's determinism tier: results are bitwise equal for any thread count, because
 * work is split at tile boundaries and every element sees the same k slices in the same order.
 */
class CpuGemmThreadingTest {
    @Test
    void threadCountDoesNotChangeBits() {
        SplittableRandom rnd = new SplittableRandom(1);
        int m = 700, n = 530, k = 610;
        float[] a = new float[m * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextDouble(-1, 1);
        }
        float[] reference = null;
        for (int threads : new int[] {1, 2, 3, 5}) {
            Config config = Config.defaults().with(Config.CPU_THREADS, String.valueOf(threads));
            try (KernelBridge bridge = KernelBridge.open(config, List.of(new CpuBackendProvider()))) {
                float[] c = new float[m * n];
                bridge.blas().sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.TRANS, m, n, k, 1f,
                        java.lang.foreign.MemorySegment.ofArray(a), k, java.lang.foreign.MemorySegment.ofArray(b), k, 0f,
                        java.lang.foreign.MemorySegment.ofArray(c), n);
                if (reference == null) {
                    reference = c;
                } else {
                    assertArrayEquals(reference, c, threads + " threads");
                }
            }
        }
    }

    @Test
    void batchesSplitOverThreadsMatchOneThread() {
        int m = 12, n = 10, k = 14, batch = 37;
        SplittableRandom rnd = new SplittableRandom(2);
        double[] a = rnd.doubles((long) m * k * batch, -1, 1).toArray(), b = rnd.doubles((long) k * n * batch, -1, 1).toArray();
        double[] one = run(1, a, b, m, n, k, batch), two = run(2, a, b, m, n, k, batch);
        assertArrayEquals(one, two);
    }

    private static double[] run(int threads, double[] a, double[] b, int m, int n, int k, int batch) {
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.CPU_THREADS, String.valueOf(threads)), List.of(new CpuBackendProvider()))) {
            var da = bridge.allocate(DType.F64, a.length).copyFrom(a);
            var db = bridge.allocate(DType.F64, b.length).copyFrom(b);
            var dc = bridge.allocate(DType.F64, (long) m * n * batch);
            bridge.gemm(dev.kernelbridge.GemmOp.builder().shape(m, n, k).a(da, 0, k).b(db, 0, n).c(dc, 0, n)
                    .batch(batch, (long) m * k, (long) k * n, (long) m * n).build());
            return dc.toDoubleArray();
        }
    }
}
