package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;

/** The two ways the scheduler checks a device's results: a canary tile against a second device, and the verified probe. */
final class Checks {
    private static final Duration PROBE_DEADLINE = Duration.ofSeconds(30);

    private Checks() { }

    /** The first element on which a piece and its canary disagree, with the host's own value of it. */
    record Mismatch(String text, double piece, double canary, double host, double bound) {
        /** Whether the piece's device computed this element right (within the bound of the host's value). */
        boolean pieceRight() {
            return Math.abs(piece - host) <= bound;
        }

        boolean canaryRight() {
            return Math.abs(canary - host) <= bound;
        }
    }

    /**
     * Null when every tile element agrees within 2·(k+2)·u·gauge; else the first disagreement, with the
     * element recomputed on the host (in F64), so that the caller can tell which of the two devices is wrong:
     * with two devices alone, a corrupt checker would otherwise quarantine an honest worker.
     */
    static Mismatch compareTile(HostGemm p, MemorySegment result, HostGemm tile, MemorySegment check, long item, long i0, long j0) {
        // Narrow inputs accumulate in F32 and round C once more to its own type.
        double u = p.dtype().computeType().unitRoundoff();
        double uOut = p.inputType() == p.dtype() ? 0 : p.dtype().unitRoundoff();
        for (long j = 0; j < tile.n(); j++) {
            for (long i = 0; i < tile.m(); i++) {
                double x = p.resultAt(result, item, i0 + i, j0 + j);
                double y = tile.resultAt(check, 0, i, j);
                if (Double.compare(x, y) == 0 || (Double.isNaN(x) && Double.isNaN(y))) {
                    continue;
                }
                double gauge = 0, dot = 0;
                for (long q = 0; q < p.k(); q++) {
                    double product = p.opA(item, i0 + i, q) * p.opB(item, q, j0 + j);
                    gauge += Math.abs(product);
                    dot += product;
                }
                double betaC = p.beta() == 0 ? 0 : p.beta() * p.cAt(item, i0 + i, j0 + j);
                gauge = Math.abs(p.alpha()) * gauge + Math.abs(betaC);
                double bound = 2.0 * (p.k() + 2) * u * gauge + 2 * uOut * gauge + Double.MIN_NORMAL;
                if (!Double.isFinite(gauge) || !(Math.abs(x - y) <= bound)) {
                    if (!Double.isFinite(gauge) && (Double.isNaN(x) == Double.isNaN(y)) && Double.isNaN(x)) {
                        continue;
                    }
                    double host = p.dtype() == DType.I32 ? (int) (long) (p.alpha() * dot + betaC) : p.alpha() * dot + betaC;
                    return new Mismatch(String.format("C(%d,%d) of %s is %s, expected %s (bound %.3g)", i0 + i, j0 + j, p.describePart(p), x, y,
                            bound), x, y, host, bound);
                }
            }
        }
        return null;
    }

    /**
     * A small GEMM of small integers (exact in any order of summation), edge tiles included, for each dtype of the device,
     * C prefilled with NaN and beta = 0; null when every element is exactly right.
     */
    static String probeFailure(Node n, Attempts attempts) {
        // Odd sizes, so that every tile dimension has a remainder: a kernel wrong only on its edge tiles fails here (R40).
        int m = 67, nn = 45, k = 41;
        // The computation paths of F32 and F64; the narrow types share F32's (the kit proves each type).
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            if (!n.spi.info().dtypes().contains(dtype)) {
                continue;
            }
            DType out = dtype.computeType();
            try (Arena arena = NativeMemory.shared()) {
                MemorySegment a = arena.allocate((long) m * k * dtype.byteSize(), 64);
                MemorySegment b = arena.allocate((long) k * nn * dtype.byteSize(), 64);
                MemorySegment c = arena.allocate((long) m * nn * out.byteSize(), 64);
                long[] av = new long[m * k], bv = new long[k * nn];
                for (int i = 0; i < av.length; i++) {
                    av[i] = (i * 7L % 9) - 4;
                    set(a, dtype, i, av[i]);
                }
                for (int i = 0; i < bv.length; i++) {
                    bv[i] = (i * 5L % 7) - 3;
                    set(b, dtype, i, bv[i]);
                }
                for (int i = 0; i < m * nn; i++) {
                    set(c, out, i, out.isFloatingPoint() ? Double.NaN : Integer.MIN_VALUE);
                }
                HostGemm job = new HostGemm(out, dev.kernelbridge.Transpose.NO_TRANS, dev.kernelbridge.Transpose.NO_TRANS, m, nn, k, 1,
                        a, 0, m, 0, b, 0, k, 0, 0, c, 0, m, 0, 1, dtype, 0, 0);
                Attempts.Attempt at = attempts.start(n, job);
                Throwable failure = attempts.await(at, PROBE_DEADLINE);
                if (failure != null) {
                    at.release();
                    if (failure instanceof dev.kernelbridge.DeviceLostException) {
                        n.health.lost(failure.getMessage()); // gone for good, out of service or not: no more probes
                    }
                    return String.valueOf(failure.getMessage());
                }
                try {
                    for (int j = 0; j < nn; j++) {
                        for (int i = 0; i < m; i++) {
                            long want = 0;
                            for (int q = 0; q < k; q++) {
                                want += av[i + q * m] * bv[q + j * k];
                            }
                            double got = job.resultAt(at.result, 0, i, j);
                            if (got != want) {
                                return dtype.label() + " probe C(" + i + "," + j + ") = " + got + ", expected " + want;
                            }
                        }
                    }
                } finally {
                    at.release();
                }
            }
        }
        return null;
    }

    private static void set(MemorySegment s, DType dtype, long i, double v) {
        dev.kernelbridge.spi.Convert.set(dtype, s, i, v);
    }
}
