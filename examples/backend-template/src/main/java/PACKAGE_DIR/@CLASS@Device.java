package @PACKAGE@;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;

/**
 * One device. gemm() receives a checked, column-major call (see GemmCall's javadoc): no argument
 * checks here, the API did them. The kernel below is a correct reference loop that passes the
 * conformance kit; replace it with your device's kernel and keep the kit green.
 */
final class @CLASS@Device implements BackendDevice {
    private static final String ID = "@NAME@:0";
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    /** TODO: your device's name, vendor, memory size and the element types it supports. */
    private final DeviceInfo info = new DeviceInfo("@CLASS@ reference device", "@CLASS@", DeviceKind.ACCELERATOR,
            java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                    ? os.getTotalMemorySize() : 0,
            Set.of(DType.F32, DType.F64));

    @Override
    public DeviceInfo info() { return info; }

    /**
     * This skeleton keeps device memory in host memory (the SPI's HostBuffer). A discrete device
     * implements BackendBuffer over its own memory: copyIn/copyOut move bytes, hostSegment() is empty.
     */
    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        return HostBuffer.allocate(ID, Math.multiplyExact(elements, (long) dtype.byteSize()));
    }

    @Override
    public boolean sharesHostMemory() { return true; }

    @Override
    public BackendBuffer wrapHost(MemorySegment hostMemory) {
        return HostBuffer.wrap(hostMemory);
    }

    @Override
    public void gemm(GemmCall x) {
        MemorySegment a = x.a().hostSegment().orElseThrow(), b = x.b().hostSegment().orElseThrow(), c = x.c().hostSegment().orElseThrow();
        for (long item = 0; item < x.batchCount(); item++) {
            long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
            for (long j = 0; j < x.n(); j++) {
                for (long i = 0; i < x.m(); i++) {
                    long at = offC + i + j * x.ldc();
                    double sum = 0;
                    for (long p = 0; p < x.k(); p++) {
                        sum += read(x.dtype(), a, index(offA, x.lda(), x.transA(), i, p)) * read(x.dtype(), b, index(offB, x.ldb(), x.transB(), p, j));
                    }
                    // k == 0 is C := beta·C exactly as netlib computes it (so beta·(+0) with beta < 0 is -0);
                    // beta == 0 never reads C.
                    double scaled = x.beta() == 0 ? 0 : x.beta() * read(x.dtype(), c, at);
                    double result = x.k() == 0 ? scaled : x.alpha() * sum + scaled;
                    if (x.dtype() == DType.F32) {
                        c.setAtIndex(F, at, (float) result);
                    } else {
                        c.setAtIndex(D, at, result);
                    }
                }
            }
        }
    }

    private static double read(DType dtype, MemorySegment s, long index) {
        return dtype == DType.F32 ? s.getAtIndex(F, index) : s.getAtIndex(D, index);
    }

    /** Element (row, col) of op(X) for a column-major X. */
    private static long index(long offset, long ld, Transpose t, long row, long col) {
        return t == Transpose.TRANS ? offset + col + row * ld : offset + row + col * ld;
    }
}
