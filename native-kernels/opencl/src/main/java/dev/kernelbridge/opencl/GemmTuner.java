package dev.kernelbridge.opencl;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.TuningReport;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.TuningDatabase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Searches the tunables of gemm.cl for one device and dtype within a time budget. Each candidate is
 * built (a build failure skips it), checked on an exact problem with ragged edges, NaN in C and
 * guarded padding (a wrong result skips it), and only then timed, best of a few runs, on a square
 * problem. The winner goes into the user's tuning database with its provenance.
 */
final class GemmTuner {
    /** Runs per timed candidate; the best counts, as the least disturbed by other load. */
    private static final int RUNS = 3;

    private final OpenClDevice device;
    private final Path database;

    GemmTuner(OpenClDevice device, Path database) {
        this.device = device;
        this.database = database;
    }

    TuningReport tune(Duration budget, TuningReport.Listener listener) {
        // F32 and F64 only: the narrow pairs run the F32 kernel after packing and read F32's entries.
        List<DType> dtypes = device.info().dtypes().stream().filter(d -> d == DType.F32 || d == DType.F64).sorted().toList();
        long start = System.nanoTime(), total = budget.toNanos();
        List<TuningReport.Kernel> kernels = new ArrayList<>();
        long used = 0;
        for (int i = 0; i < dtypes.size(); i++) {
            DType dtype = dtypes.get(i);
            // F32 gets the larger share: it is what training runs on.
            long share = dtypes.size() == 1 ? total - used : i == 0 ? total * 2 / 3 : total - used;
            long base = start + used;
            long deadline = base + share;
            kernels.add(tune(dtype, deadline, (f, m) -> listener.progress(
                    Math.min(1, (base - start + f * share) / (double) total), m)));
            used = System.nanoTime() - start;
        }
        listener.progress(1, "done");
        return new TuningReport(device.id(), database.toString(), kernels);
    }

    private TuningReport.Kernel tune(DType dtype, long deadline, TuningReport.Listener listener) {
        long n = dtype == DType.F32 ? 1024 : 768;
        GemmParameters current = device.gemmFor(dtype).parameters();
        List<GemmParameters> candidates = candidates(current, dtype);
        GemmParameters best = null;
        double bestGflops = 0, currentGflops = 0;
        int timed = 0, rejected = 0;
        long begin = System.nanoTime();
        try (Problem check = Problem.check(device, dtype); Problem timing = Problem.square(device, dtype, n)) {
            for (int c = 0; c < candidates.size() && (c == 0 || System.nanoTime() < deadline); c++) {
                GemmParameters p = candidates.get(c);
                double fraction = (System.nanoTime() - begin) / (double) Math.max(1, deadline - begin);
                listener.progress(Math.min(1, fraction), dtype.label() + " " + p + (best == null ? "" : String.format(" (best %.1f GFLOP/s)", bestGflops)));
                double gflops;
                try (OpenClProgram program = device.buildGemm(dev.kernelbridge.tuning.GemmVariant.of(dtype), p)) {
                    OpenClDevice.Gemm gemm = new OpenClDevice.Gemm(program, p, "candidate");
                    if (!check.verify(gemm)) {
                        rejected++;
                        continue;
                    }
                    gemm(gemm, timing.call);
                    long fastest = Long.MAX_VALUE;
                    for (int r = 0; r < RUNS; r++) {
                        long t0 = System.nanoTime();
                        gemm(gemm, timing.call);
                        fastest = Math.min(fastest, System.nanoTime() - t0);
                    }
                    gflops = 2.0 * n * n * n / fastest;
                } catch (DeviceException e) {
                    rejected++; // did not build, or ran out of resources: not a candidate on this device
                    continue;
                }
                timed++;
                if (p.equals(current)) {
                    currentGflops = gflops;
                }
                if (gflops > bestGflops) {
                    bestGflops = gflops;
                    best = p;
                }
            }
        }
        if (best == null) {
            throw new DeviceException(device.id(), 0, "NO_CANDIDATE",
                    "no " + dtype.label() + " GEMM candidate built and verified within the budget");
        }
        TuningDatabase.Identity id = device.identity();
        TuningDatabase.record(database, new TuningDatabase.Entry("gemm", dtype.name(), id.vendor(), id.device(), id.driver(),
                best.asDefines(), new TuningDatabase.Provenance(Instant.now().toString(), hostName(), bestGflops,
                "m=n=k=" + n, "kernelbridge tune")));
        return new TuningReport.Kernel("gemm", dtype, best.toString(), bestGflops, currentGflops, timed, rejected, "m=n=k=" + n);
    }

    private void gemm(OpenClDevice.Gemm gemm, GemmCall call) {
        device.lock().lock();
        try {
            GemmLauncher.run(device, gemm, call);
        } finally {
            device.lock().unlock();
        }
    }

    /** The device's current parameters first, then the search space in a fixed pseudo-random order. */
    List<GemmParameters> candidates(GemmParameters current, DType dtype) {
        boolean cpu = device.info().kind() == DeviceKind.CPU;
        int[] widths = cpu ? new int[] {4, 8, 16} : new int[] {1, 2, 4};
        int[] groups = cpu ? new int[] {1} : new int[] {8, 16, 32, 64};
        List<GemmParameters> space = new ArrayList<>();
        for (int vw : widths) {
            for (int mv : new int[] {1, 2, 4}) {
                for (int nr : new int[] {4, 6, 8, 12, 14, 16}) {
                    for (int ku : new int[] {1, 2, 4}) {
                        for (int wg : groups) {
                            // Registers: MV·NR accumulators plus MV loads and a broadcast must fit 32 vectors.
                            int bytes = vw * mv * (int) dtype.byteSize();
                            if (mv * nr + mv + 1 <= 32 && bytes <= 128 && (cpu || mv * nr <= 16)) {
                                space.add(new GemmParameters(vw, mv, nr, ku, wg, 0, 32));
                                if (wg > 1) { // a shared A panel only pays when several work-items share it
                                    space.add(new GemmParameters(vw, mv, nr, ku, wg, 1, 32));
                                }
                            }
                        }
                    }
                }
            }
        }
        Collections.shuffle(space, new Random(42));
        Set<GemmParameters> ordered = new LinkedHashSet<>();
        ordered.add(current);
        ordered.addAll(space);
        return List.copyOf(ordered);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }

    /** Device buffers and a GEMM call over them, freed on close. */
    static final class Problem implements AutoCloseable {
        final GemmCall call;
        final List<BackendBuffer> buffers;
        final float[] expected;
        final long m, n, ldc;

        private Problem(GemmCall call, List<BackendBuffer> buffers, float[] expected, long m, long n, long ldc) {
            this.call = call;
            this.buffers = buffers;
            this.expected = expected;
            this.m = m;
            this.n = n;
            this.ldc = ldc;
        }

        /** n×n×n with values that never overflow; timing only. */
        static Problem square(OpenClDevice device, DType dtype, long n) {
            BackendBuffer a = device.allocate(dtype, n * n), b = device.allocate(dtype, n * n), c = device.allocate(dtype, n * n);
            fill(a, dtype, n * n, 1);
            fill(b, dtype, n * n, 2);
            GemmCall call = new GemmCall(dtype, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1,
                    a, 0, n, 0, b, 0, n, 0, 0, c, 0, n, 0, 1);
            return new Problem(call, List.of(a, b, c), null, n, n, n);
        }

        /**
         * 77×53×41 with op(B) = Bᵀ, small integers (exact in F32 and F64), C filled with NaN and
         * beta = 0, ldc = m + 3 with the padding rows set to a sentinel that must survive.
         */
        static Problem check(OpenClDevice device, DType dtype) {
            long m = 77, n = 53, k = 41, ldc = m + 3;
            float[] av = new float[(int) (m * k)], bv = new float[(int) (n * k)];
            Random rnd = new Random(7);
            for (int i = 0; i < av.length; i++) {
                av[i] = rnd.nextInt(5) - 2;
            }
            for (int i = 0; i < bv.length; i++) {
                bv[i] = rnd.nextInt(5) - 2;
            }
            float[] expected = new float[(int) (ldc * n)];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < ldc; i++) {
                    if (i >= m) {
                        expected[(int) (i + j * ldc)] = -12345;
                        continue;
                    }
                    float s = 0;
                    for (int p = 0; p < k; p++) {
                        s += av[(int) (i + p * m)] * bv[(int) (j + p * n)];
                    }
                    expected[(int) (i + j * ldc)] = s;
                }
            }
            float[] cv = new float[expected.length];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < ldc; i++) {
                    cv[(int) (i + j * ldc)] = i >= m ? -12345 : Float.NaN;
                }
            }
            BackendBuffer a = upload(device, dtype, av), b = upload(device, dtype, bv), c = upload(device, dtype, cv);
            GemmCall call = new GemmCall(dtype, Transpose.NO_TRANS, Transpose.TRANS, m, n, k, 1,
                    a, 0, m, 0, b, 0, n, 0, 0, c, 0, ldc, 0, 1);
            return new Problem(call, List.of(a, b, c), expected, m, n, ldc);
        }

        /** Runs the check problem with {@code gemm}; true when every element of C is exact. */
        boolean verify(OpenClDevice.Gemm gemm) {
            BackendBuffer c = buffers.get(2);
            DType dtype = call.dtype();
            float[] nan = new float[expected.length];
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < ldc; i++) {
                    nan[(int) (i + j * ldc)] = i >= m ? -12345 : Float.NaN;
                }
            }
            write(c, dtype, nan);
            OpenClDevice device = ((OpenClBuffer) c).device();
            device.lock().lock();
            try {
                GemmLauncher.run(device, gemm, call);
            } finally {
                device.lock().unlock();
            }
            float[] got = read(c, dtype, expected.length);
            for (int i = 0; i < got.length; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(expected[i])) {
                    return false;
                }
            }
            return true;
        }

        private static BackendBuffer upload(OpenClDevice device, DType dtype, float[] values) {
            BackendBuffer b = device.allocate(dtype, values.length);
            write(b, dtype, values);
            return b;
        }

        private static void write(BackendBuffer b, DType dtype, float[] values) {
            try (Arena arena = NativeMemory.confined()) {
                MemorySegment s = arena.allocate(values.length * dtype.byteSize(), 64);
                for (int i = 0; i < values.length; i++) {
                    if (dtype == DType.F32) {
                        s.setAtIndex(ValueLayout.JAVA_FLOAT, i, values[i]);
                    } else {
                        s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, values[i]);
                    }
                }
                b.copyIn(0, s);
            }
        }

        private static float[] read(BackendBuffer b, DType dtype, int count) {
            try (Arena arena = NativeMemory.confined()) {
                MemorySegment s = arena.allocate(count * dtype.byteSize(), 64);
                b.copyOut(0, s);
                float[] out = new float[count];
                for (int i = 0; i < count; i++) {
                    out[i] = dtype == DType.F32 ? s.getAtIndex(ValueLayout.JAVA_FLOAT, i) : (float) s.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                }
                return out;
            }
        }

        private static void fill(BackendBuffer b, DType dtype, long count, int seed) {
            float[] v = new float[(int) count];
            Random rnd = new Random(seed);
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextFloat() - 0.5f;
            }
            write(b, dtype, v);
        }

        @Override
        public void close() {
            buffers.forEach(BackendBuffer::release);
        }
    }
}
