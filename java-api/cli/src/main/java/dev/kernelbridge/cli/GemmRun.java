package dev.kernelbridge.cli;

import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.Convert;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Runs one GEMM shape on a device: one verified run from known C, then timed runs.
 * Verification is the O(n²) random-projection check: C·x against alpha·A·(B·x) + beta·C₀·x in
 * double, each row's error relative to its magnitude |alpha|·|A|·(|B|·|x|) + |beta|·|C₀|·|x|,
 * which must stay below 2·k·u (Higham's γ bound with room for the final scaling).
 */
final class GemmRun {
    record Result(String device, DType dtype, DType out, long m, long n, long k, double seconds, double gflops,
                  Boolean verified, double maxRelError, WarmUp.Spread spread, int runs) { }

    /** A and B hold {@code dtype}, C holds {@code out} (see {@link GemmOp} for the pairs). */
    record Shape(DType dtype, DType out, long m, long n, long k, Transpose transA, Transpose transB, Layout layout,
                 double alpha, double beta) { }

    private GemmRun() { }

    static Result run(KernelBridge bridge, Device device, Shape s, int repeat, boolean verify, Progress progress) {
        long rowsA = s.transA() == Transpose.NO_TRANS ? s.m() : s.k(), colsA = s.transA() == Transpose.NO_TRANS ? s.k() : s.m();
        long rowsB = s.transB() == Transpose.NO_TRANS ? s.k() : s.n(), colsB = s.transB() == Transpose.NO_TRANS ? s.n() : s.k();
        int lenA = arrayLength(rowsA * colsA, "A"), lenB = arrayLength(rowsB * colsB, "B"), lenC = arrayLength(s.m() * s.n(), "C");
        SplittableRandom rnd = new SplittableRandom(42);
        // Values exactly representable in their types, so the check below sees only the GEMM's own error.
        double[] a = values(rnd, lenA, s.dtype()), b = values(rnd, lenB, s.dtype()), c0 = values(rnd, lenC, s.out());
        try (DeviceBuffer da = upload(bridge, device, s.dtype(), a);
             DeviceBuffer db = upload(bridge, device, s.dtype(), b);
             DeviceBuffer dc = upload(bridge, device, s.out(), c0)) {
            GemmOp op = GemmOp.builder().layout(s.layout()).transA(s.transA()).transB(s.transB())
                    .shape(s.m(), s.n(), s.k()).alpha(s.alpha()).beta(s.beta()).a(da).b(db).c(dc).build();
            bridge.gemm(op);
            Boolean verified = null;
            double maxRel = Double.NaN;
            if (verify) {
                double[] c = download(dc);
                maxRel = projectionError(s, a, b, c0, c);
                verified = maxRel <= bound(s);
            }
            WarmUp.run(() -> bridge.gemm(op));
            double[] times = new double[repeat];
            for (int r = 0; r < repeat; r++) {
                progress.step(r + 1, repeat, s.m() + "x" + s.n() + "x" + s.k() + " " + s.dtype().label() + "->" + s.out().label());
                long t0 = System.nanoTime();
                bridge.gemm(op);
                times[r] = (System.nanoTime() - t0) * 1e-9;
            }
            WarmUp.Spread spread = WarmUp.Spread.of(times);
            double seconds = spread.median();
            double gflops = seconds > 0 ? op.flops() / seconds * 1e-9 : 0;
            return new Result(device.id(), s.dtype(), s.out(), s.m(), s.n(), s.k(), seconds, gflops, verified, maxRel, spread, repeat);
        }
    }

    /**
     * The relative error allowed per row: accumulation in the compute type (2·k·u, Higham's γ with
     * room for the final scaling), plus one rounding of a narrow C; I8 → I32 is exact.
     */
    static double bound(Shape s) {
        double u = s.dtype().computeType().unitRoundoff();
        double uOut = s.out() == s.dtype().computeType() ? 0 : s.out().unitRoundoff();
        return 2.0 * Math.max(1, s.k()) * u + 4 * u + 2 * uOut;
    }

    private static double projectionError(Shape s, double[] a, double[] b, double[] c0, double[] c) {
        long m = s.m(), n = s.n(), k = s.k();
        SplittableRandom rnd = new SplittableRandom(7);
        double[] x = new double[(int) n];
        for (int j = 0; j < n; j++) {
            x[j] = rnd.nextBoolean() ? 1 : -1;
        }
        double[] bx = new double[(int) k], absBx = new double[(int) k];
        for (long p = 0; p < k; p++) {
            double sum = 0, abs = 0;
            for (long j = 0; j < n; j++) {
                double v = at(b, s.layout(), s.transB(), k, n, p, j);
                sum += v * x[(int) j];
                abs += Math.abs(v);
            }
            bx[(int) p] = sum;
            absBx[(int) p] = abs;
        }
        double worst = 0;
        for (long i = 0; i < m; i++) {
            double expect = 0, gauge = 0, got = 0;
            for (long p = 0; p < k; p++) {
                double v = at(a, s.layout(), s.transA(), m, k, i, p);
                expect += v * bx[(int) p];
                gauge += Math.abs(v) * absBx[(int) p];
            }
            expect *= s.alpha();
            gauge *= Math.abs(s.alpha());
            for (long j = 0; j < n; j++) {
                double cij = at(c, s.layout(), Transpose.NO_TRANS, m, n, i, j);
                got += cij * x[(int) j];
                if (s.beta() != 0) {
                    double old = at(c0, s.layout(), Transpose.NO_TRANS, m, n, i, j);
                    expect += s.beta() * old * x[(int) j];
                    gauge += Math.abs(s.beta() * old);
                }
            }
            double err = Math.abs(got - expect) / (gauge == 0 ? 1 : gauge);
            if (!(err <= worst)) {
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
            }
        }
        return worst;
    }

    /** Element (i, j) of op(X) where op(X) is rows×cols, stored tightly in the given layout. */
    private static double at(double[] x, Layout layout, Transpose t, long rows, long cols, long i, long j) {
        long r = i, c = j, storedRows = rows, storedCols = cols;
        if (t == Transpose.TRANS) {
            r = j;
            c = i;
            storedRows = cols;
            storedCols = rows;
        }
        return layout == Layout.ROW_MAJOR ? x[(int) (r * storedCols + c)] : x[(int) (r + c * storedRows)];
    }

    private static int arrayLength(long n, String what) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new Args.UsageException(what + " would have " + n + " elements; the CLI's verified runs are limited to 2^31-9 per matrix");
        }
        return (int) n;
    }

    /** Uniform in [-1, 1] rounded to {@code type}; I8 in its whole range, I32 in [-2^20, 2^20]. */
    private static double[] values(SplittableRandom rnd, int n, DType type) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (type) {
                case I8 -> rnd.nextInt(-128, 128);
                case I32 -> rnd.nextInt(-(1 << 20), 1 << 20);
                case F64 -> rnd.nextDouble(-1, 1);
                default -> NarrowFloat.round(type, (float) rnd.nextDouble(-1, 1));
            };
        }
        return x;
    }

    private static DeviceBuffer upload(KernelBridge bridge, Device device, DType dtype, double[] values) {
        DeviceBuffer buf = bridge.allocate(device, dtype, values.length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Math.max(1, buf.byteSize())).asSlice(0, buf.byteSize());
            for (int i = 0; i < values.length; i++) {
                Convert.set(dtype, host, i, values[i]);
            }
            return buf.copyFrom(0, host);
        }
    }

    private static double[] download(DeviceBuffer buf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Math.max(1, buf.byteSize())).asSlice(0, buf.byteSize());
            buf.copyTo(0, host);
            double[] d = new double[(int) buf.length()];
            for (int i = 0; i < d.length; i++) {
                d[i] = Convert.get(buf.dtype(), host, i);
            }
            return d;
        }
    }
}
