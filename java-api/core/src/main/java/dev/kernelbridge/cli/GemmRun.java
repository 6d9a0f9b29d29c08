package dev.kernelbridge.cli;

import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Runs one GEMM shape on a device: one verified run from known C, then timed runs.
 * Verification is the O(n²) random-projection check: C·x against alpha·A·(B·x) + beta·C₀·x in
 * double, each row's error relative to its magnitude |alpha|·|A|·(|B|·|x|) + |beta|·|C₀|·|x|,
 * which must stay below 2·k·u (Higham's γ bound with room for the final scaling).
 */
final class GemmRun {
    record Result(String device, DType dtype, long m, long n, long k, double seconds, double gflops,
                  Boolean verified, double maxRelError, WarmUp.Spread spread, int runs) { }

    record Shape(DType dtype, long m, long n, long k, Transpose transA, Transpose transB, Layout layout,
                 double alpha, double beta) { }

    private GemmRun() { }

    static Result run(KernelBridge bridge, Device device, Shape s, int repeat, boolean verify, Progress progress) {
        long rowsA = s.transA() == Transpose.NO_TRANS ? s.m() : s.k(), colsA = s.transA() == Transpose.NO_TRANS ? s.k() : s.m();
        long rowsB = s.transB() == Transpose.NO_TRANS ? s.k() : s.n(), colsB = s.transB() == Transpose.NO_TRANS ? s.n() : s.k();
        int lenA = arrayLength(rowsA * colsA, "A"), lenB = arrayLength(rowsB * colsB, "B"), lenC = arrayLength(s.m() * s.n(), "C");
        SplittableRandom rnd = new SplittableRandom(42);
        double[] a = uniform(rnd, lenA), b = uniform(rnd, lenB), c0 = uniform(rnd, lenC);
        try (DeviceBuffer da = upload(bridge, device, s.dtype(), a);
             DeviceBuffer db = upload(bridge, device, s.dtype(), b);
             DeviceBuffer dc = upload(bridge, device, s.dtype(), c0)) {
            GemmOp op = GemmOp.builder().layout(s.layout()).transA(s.transA()).transB(s.transB())
                    .shape(s.m(), s.n(), s.k()).alpha(s.alpha()).beta(s.beta()).a(da).b(db).c(dc).build();
            bridge.gemm(op);
            Boolean verified = null;
            double maxRel = Double.NaN;
            if (verify) {
                double[] c = download(dc);
                double[] rounded = s.dtype() == DType.F32 ? toFloatPrecision(a) : a;
                double[] roundedB = s.dtype() == DType.F32 ? toFloatPrecision(b) : b;
                double[] roundedC = s.dtype() == DType.F32 ? toFloatPrecision(c0) : c0;
                maxRel = projectionError(s, rounded, roundedB, roundedC, c);
                verified = maxRel <= 2.0 * Math.max(1, s.k()) * s.dtype().unitRoundoff() + 4 * s.dtype().unitRoundoff();
            }
            WarmUp.run(() -> bridge.gemm(op));
            double[] times = new double[repeat];
            for (int r = 0; r < repeat; r++) {
                progress.step(r + 1, repeat, s.m() + "x" + s.n() + "x" + s.k() + " " + s.dtype().label());
                long t0 = System.nanoTime();
                bridge.gemm(op);
                times[r] = (System.nanoTime() - t0) * 1e-9;
            }
            WarmUp.Spread spread = WarmUp.Spread.of(times);
            double seconds = spread.median();
            double gflops = seconds > 0 ? op.flops() / seconds * 1e-9 : 0;
            return new Result(device.id(), s.dtype(), s.m(), s.n(), s.k(), seconds, gflops, verified, maxRel, spread, repeat);
        }
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

    private static double[] uniform(SplittableRandom rnd, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextDouble(-1, 1);
        }
        return x;
    }

    private static double[] toFloatPrecision(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (float) x[i];
        }
        return y;
    }

    private static DeviceBuffer upload(KernelBridge bridge, Device device, DType dtype, double[] values) {
        DeviceBuffer buf = bridge.allocate(device, dtype, values.length);
        if (dtype == DType.F32) {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            buf.copyFrom(f);
        } else {
            buf.copyFrom(values);
        }
        return buf;
    }

    private static double[] download(DeviceBuffer buf) {
        if (buf.dtype() == DType.F32) {
            float[] f = buf.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            return d;
        }
        return buf.toDoubleArray();
    }
}
