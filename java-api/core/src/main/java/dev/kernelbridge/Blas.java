package dev.kernelbridge;

import dev.kernelbridge.GemmChecks.Region;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * BLAS-style GEMM on host memory, so a framework adopts KernelBridge by changing one call.
 * The array forms take netlib's argument order and column-major storage (as netlib-java and
 * dev.ludovic.netlib do); the segment forms take a {@link Layout} like CBLAS. Placement is
 * automatic: a device that addresses host memory works on the caller's memory in place, any other
 * device gets copies. Arguments are checked exactly as {@link GemmOp}'s, before anything is
 * written. Thread-safe; obtained from {@link KernelBridge#blas()}.
 */
public final class Blas {
    private static final Object NATIVE_MEMORY = new Object();
    /** A thread that never runs: a segment it cannot access is confined to some thread. */
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> { });

    private final KernelBridge bridge;

    Blas(KernelBridge bridge) {
        this.bridge = bridge;
    }

    /** Netlib SGEMM: C := alpha·op(A)·op(B) + beta·C, column-major, with element offsets. */
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                      float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        run(DType.F32, Layout.COLUMN_MAJOR, Transpose.parse(transa, "transa"), Transpose.parse(transb, "transb"), m, n, k, alpha, beta,
                a == null ? null : MemorySegment.ofArray(a), offa, lda,
                b == null ? null : MemorySegment.ofArray(b), offb, ldb,
                c == null ? null : MemorySegment.ofArray(c), offc, ldc);
    }

    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int lda,
                      float[] b, int ldb, float beta, float[] c, int ldc) {
        sgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    /** Netlib DGEMM: C := alpha·op(A)·op(B) + beta·C, column-major, with element offsets. */
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                      double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc) {
        run(DType.F64, Layout.COLUMN_MAJOR, Transpose.parse(transa, "transa"), Transpose.parse(transb, "transb"), m, n, k, alpha, beta,
                a == null ? null : MemorySegment.ofArray(a), offa, lda,
                b == null ? null : MemorySegment.ofArray(b), offb, ldb,
                c == null ? null : MemorySegment.ofArray(c), offc, ldc);
    }

    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int lda,
                      double[] b, int ldb, double beta, double[] c, int ldc) {
        dgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    /** CBLAS-style SGEMM on memory segments of floats (heap or native, any byte alignment). */
    public void sgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, float alpha,
                      MemorySegment a, long lda, MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        run(DType.F32, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, b, 0, ldb, c, 0, ldc);
    }

    /** CBLAS-style DGEMM on memory segments of doubles (heap or native, any byte alignment). */
    public void dgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                      MemorySegment a, long lda, MemorySegment b, long ldb, double beta, MemorySegment c, long ldc) {
        run(DType.F64, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, b, 0, ldb, c, 0, ldc);
    }

    private void run(DType dtype, Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                     double alpha, double beta, MemorySegment a, long offA, long lda, MemorySegment b, long offB, long ldb,
                     MemorySegment c, long offC, long ldc) {
        Region ra = region("a", a, dtype, offA, lda);
        Region rb = region("b", b, dtype, offB, ldb);
        Region rc = region("c", c, dtype, offC, ldc);
        boolean work = GemmChecks.check(layout, transA, transB, m, n, k, alpha, beta, ra, rb, rc, 1);
        GemmChecks.require(!c.isReadOnly(), "c must be writable, got a read-only segment");
        for (MemorySegment s : new MemorySegment[] {a, b, c}) {
            if (!s.scope().isAlive()) {
                throw new IllegalStateException("the arena of " + (s == a ? "a" : s == b ? "b" : "c") + " is closed");
            }
            if (!s.isAccessibleBy(Thread.currentThread())) {
                throw new WrongThreadException("the segment " + (s == a ? "a" : s == b ? "b" : "c") + " is confined to another thread");
            }
        }
        if (!work) {
            return;
        }
        bridge.lifetime.acquire();
        // Staging memory is rare (confined segments, devices with their own memory); closing a
        // shared arena costs a handshake with every thread, so only make one when it is needed.
        Staging staging = new Staging();
        try {
            Device device = placement();
            BackendBuffer bufA = place(device, dtype, a, staging, true);
            BackendBuffer bufB = place(device, dtype, b, staging, true);
            BackendBuffer bufC = place(device, dtype, c, staging, beta != 0);
            try {
                GemmCall call = GemmChecks.toCall(layout, transA, transB, m, n, k, alpha, beta, ra, bufA, rb, bufB, rc, bufC, 1);
                device.spi().gemm(call);
                if (bufC.hostSegment().isEmpty() || bufC.hostSegment().get() != c) {
                    bufC.copyOut(0, c);
                }
            } finally {
                for (BackendBuffer buf : new BackendBuffer[] {bufA, bufB, bufC}) {
                    buf.release();
                }
            }
        } finally {
            staging.close();
            bridge.lifetime.release();
        }
    }

    /** For now the first device that works on host memory in place, else the default device. */
    private Device placement() {
        for (Device d : bridge.devices()) {
            if (d.spi().sharesHostMemory()) {
                return d;
            }
        }
        return bridge.defaultDevice();
    }

    /**
     * The caller's memory in place when the device can address it and any thread may touch it;
     * otherwise a copy (device memory, or shared host memory for a thread-confined segment).
     */
    private static BackendBuffer place(Device device, DType dtype, MemorySegment host, Staging staging, boolean copyIn) {
        boolean anyThread = host.isAccessibleBy(OTHER_THREAD);
        if (device.spi().sharesHostMemory() && anyThread) {
            return device.spi().wrapHost(host);
        }
        BackendBuffer buf = device.spi().sharesHostMemory()
                ? device.spi().wrapHost(staging.allocate(host.byteSize()))
                : device.spi().allocate(dtype, (host.byteSize() + dtype.byteSize() - 1) / dtype.byteSize());
        if (copyIn) {
            buf.copyIn(0, host);
        }
        return buf;
    }

    /** A shared arena made on first use. */
    private static final class Staging {
        private Arena arena;

        MemorySegment allocate(long bytes) {
            if (arena == null) {
                arena = Arena.ofShared();
            }
            return arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        }

        void close() {
            if (arena != null) {
                arena.close();
            }
        }
    }

    private static Region region(String name, MemorySegment s, DType dtype, long offset, long ld) {
        if (s == null) {
            return new Region(name, null, 0, 0, dtype, offset, ld, 0);
        }
        Object memory = s.heapBase().orElse(NATIVE_MEMORY);
        return new Region(name, memory, s.address(), s.byteSize() / dtype.byteSize(), dtype, offset, ld, 0);
    }

    @Override
    public String toString() {
        return "Blas on " + Objects.toString(bridge);
    }
}
