package dev.kernelbridge;

/**
 * One GEMM, or a strided batch of them: {@code C := alpha·op(A)·op(B) + beta·C} with op(A) m×k,
 * op(B) k×n, C m×n, in the given {@link Layout}, with BLAS semantics:
 * <ul>
 *   <li>beta == 0 overwrites C without reading it, so NaN or Inf in C do not survive;</li>
 *   <li>alpha == 0 or k == 0 only scales C by beta and reads neither A nor B;</li>
 *   <li>m == 0, n == 0 or a batch of 0 returns at once, and so does alpha·k == 0 with beta == 1.</li>
 * </ul>
 * Offsets, leading dimensions and batch strides count elements. An omitted leading dimension is the
 * tightest legal one. Nothing is checked until the op is run; then every argument is checked, in
 * netlib order, before anything is written. Immutable and thread-safe.
 */
public final class GemmOp {
    final Layout layout;
    final Transpose transA, transB;
    final long m, n, k;
    final double alpha, beta;
    final DeviceBuffer a, b, c;
    final long offsetA, offsetB, offsetC;
    final long lda, ldb, ldc;
    final long batchCount, strideA, strideB, strideC;
    final int zeroPointA, zeroPointB;

    private GemmOp(Builder x) {
        layout = x.layout;
        transA = x.transA;
        transB = x.transB;
        m = x.m;
        n = x.n;
        k = x.k;
        alpha = x.alpha;
        beta = x.beta;
        a = x.a;
        b = x.b;
        c = x.c;
        offsetA = x.offsetA;
        offsetB = x.offsetB;
        offsetC = x.offsetC;
        lda = x.lda == TIGHT ? tightLd(layout, rowsOf(transA, m, k), colsOf(transA, m, k)) : x.lda;
        ldb = x.ldb == TIGHT ? tightLd(layout, rowsOf(transB, k, n), colsOf(transB, k, n)) : x.ldb;
        ldc = x.ldc == TIGHT ? tightLd(layout, m, n) : x.ldc;
        batchCount = x.batchCount;
        strideA = x.strideA;
        strideB = x.strideB;
        strideC = x.strideC;
        zeroPointA = x.zeroPointA;
        zeroPointB = x.zeroPointB;
    }

    public static Builder builder() { return new Builder(); }

    /** A single GEMM on whole, tightly packed matrices: the common case in one line. */
    public static GemmOp of(Layout layout, long m, long n, long k, double alpha, DeviceBuffer a, DeviceBuffer b, double beta, DeviceBuffer c) {
        return builder().layout(layout).shape(m, n, k).alpha(alpha).a(a).b(b).beta(beta).c(c).build();
    }

    public Layout layout() { return layout; }
    public Transpose transA() { return transA; }
    public Transpose transB() { return transB; }
    public long m() { return m; }
    public long n() { return n; }
    public long k() { return k; }
    public double alpha() { return alpha; }
    public double beta() { return beta; }
    public DeviceBuffer a() { return a; }
    public DeviceBuffer b() { return b; }
    public DeviceBuffer c() { return c; }
    public long offsetA() { return offsetA; }
    public long offsetB() { return offsetB; }
    public long offsetC() { return offsetC; }
    public long lda() { return lda; }
    public long ldb() { return ldb; }
    public long ldc() { return ldc; }
    public long batchCount() { return batchCount; }
    public long strideA() { return strideA; }
    public long strideB() { return strideB; }
    public long strideC() { return strideC; }
    public int zeroPointA() { return zeroPointA; }
    public int zeroPointB() { return zeroPointB; }

    /** Floating-point operations of the whole op, counting a multiply-add as two. */
    public double flops() { return 2.0 * m * n * k * batchCount; }

    static final long TIGHT = Long.MIN_VALUE;

    static long rowsOf(Transpose t, long rows, long cols) { return t == Transpose.TRANS ? cols : rows; }

    static long colsOf(Transpose t, long rows, long cols) { return t == Transpose.TRANS ? rows : cols; }

    /** The smallest legal leading dimension of a stored rows×cols matrix. */
    static long tightLd(Layout layout, long rows, long cols) {
        return Math.max(1, layout == Layout.ROW_MAJOR ? cols : rows);
    }

    /** Collects the arguments of a GEMM. Not thread-safe; {@link #build()} makes an immutable op. */
    public static final class Builder {
        private Layout layout = Layout.ROW_MAJOR;
        private Transpose transA = Transpose.NO_TRANS, transB = Transpose.NO_TRANS;
        private long m, n, k;
        private double alpha = 1, beta = 0;
        private DeviceBuffer a, b, c;
        private long offsetA, offsetB, offsetC;
        private long lda = TIGHT, ldb = TIGHT, ldc = TIGHT;
        private long batchCount = 1, strideA, strideB, strideC;
        private int zeroPointA, zeroPointB;

        private Builder() { }

        /** Storage order of A, B and C; row-major unless set. */
        public Builder layout(Layout layout) { this.layout = layout; return this; }

        public Builder transA(Transpose transA) { this.transA = transA; return this; }

        public Builder transB(Transpose transB) { this.transB = transB; return this; }

        /** op(A) is m×k, op(B) is k×n, C is m×n. */
        public Builder shape(long m, long n, long k) { this.m = m; this.n = n; this.k = k; return this; }

        public Builder alpha(double alpha) { this.alpha = alpha; return this; }

        public Builder beta(double beta) { this.beta = beta; return this; }

        public Builder a(DeviceBuffer a) { return a(a, 0, TIGHT); }

        public Builder a(DeviceBuffer a, long offset, long ld) { this.a = a; offsetA = offset; lda = ld; return this; }

        public Builder b(DeviceBuffer b) { return b(b, 0, TIGHT); }

        public Builder b(DeviceBuffer b, long offset, long ld) { this.b = b; offsetB = offset; ldb = ld; return this; }

        public Builder c(DeviceBuffer c) { return c(c, 0, TIGHT); }

        public Builder c(DeviceBuffer c, long offset, long ld) { this.c = c; offsetC = offset; ldc = ld; return this; }

        /** Makes this a strided batch: item i uses A at offsetA + i·strideA, and so on. */
        public Builder batch(long count, long strideA, long strideB, long strideC) {
            this.batchCount = count;
            this.strideA = strideA;
            this.strideB = strideB;
            this.strideC = strideC;
            return this;
        }

        /**
         * Per-tensor zero points of an I8 GEMM (as ONNX MatMulInteger): C := alpha·(A − a)·(B − b) + beta·C,
         * each in [−128, 127]. Unsigned 8-bit activations x with zero point z are stored as x − 128
         * with zero point z − 128: the differences, and so the result, are the same.
         */
        public Builder zeroPoints(int a, int b) { this.zeroPointA = a; this.zeroPointB = b; return this; }

        public GemmOp build() { return new GemmOp(this); }
    }
}
