package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the device declares, each declared type proven with one exact GEMM (undeclared ones are
 * listed as skipped), and the reference throughput for the report: a 512³ F32 (or F64) GEMM on
 * the device and on the built-in CPU backend of the same machine. Throughput is recorded, never
 * asserted.
 */
public interface CapabilityConformance extends KitContext {
    @Tag("capabilities")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void declaredTypeComputes(DType dtype) {
        requireDeclared(dtype);
        double[] ones = new double[9];
        Arrays.fill(ones, 1);
        try (Operand a = Operand.of(bridge(), device(), dtype, ones); Operand c = Operand.of(bridge(), device(), dtype, new double[9])) {
            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, 3, 3, 3, 1, a.buffer, a.buffer, 0, c.buffer));
            for (double v : Operand.values(dtype, c.downloadBits())) {
                assertEquals(3.0, v, 0.0);
            }
        }
    }

    @Tag("performance")
    @Test
    default void referenceGemmThroughputIsRecorded() {
        DType dtype = firstDtype();
        double ours = gflops(bridge(), device(), dtype);
        reportFigures().put("referenceGemm", "512x512x512 " + dtype.label());
        reportFigures().put("deviceGflops", ours);
        try (KernelBridge cpu = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"))) {
            double reference = gflops(cpu, cpu.device("cpu:0"), dtype);
            reportFigures().put("cpuBackendGflops", reference);
            reportFigures().put("ratioToCpuBackend", ours / reference);
        }
        assertTrue(ours > 0);
    }

    /** Median GFLOP/s of 7 timed 512³ GEMMs, after 1.5 s of warm-up so the JIT has compiled the hot loops. */
    private static double gflops(KernelBridge bridge, Device device, DType dtype) {
        int n = 512;
        try (DeviceBuffer a = bridge.allocate(device, dtype, (long) n * n); DeviceBuffer b = bridge.allocate(device, dtype, (long) n * n);
             DeviceBuffer c = bridge.allocate(device, dtype, (long) n * n)) {
            java.lang.foreign.MemorySegment zeros = java.lang.foreign.MemorySegment.ofArray(new byte[n * n * dtype.byteSize()]);
            a.copyFrom(0, zeros);
            b.copyFrom(0, zeros);
            GemmOp op = GemmOp.of(Layout.ROW_MAJOR, n, n, n, 1, a, b, 0, c);
            long warm = System.nanoTime();
            for (int i = 0; i < 3 || System.nanoTime() - warm < 1_500_000_000L; i++) {
                bridge.gemm(op);
            }
            double[] t = new double[7];
            for (int i = 0; i < t.length; i++) {
                long t0 = System.nanoTime();
                bridge.gemm(op);
                t[i] = (System.nanoTime() - t0) * 1e-9;
            }
            Arrays.sort(t);
            return op.flops() / t[t.length / 2] * 1e-9;
        }
    }
}
