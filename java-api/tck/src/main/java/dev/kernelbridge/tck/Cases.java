package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import java.util.List;

/**
 * The one list of GEMM cases that the kit checks and the benchmarks (jmh-bench) time: square sizes,
 * and ML-shaped ones — activations × weights (tall-skinny: many rows, a square weight matrix) and
 * many small batched products (attention heads, experts). A quick set for every change, a full set
 * for the night.
 */
public final class Cases {
    private Cases() { }

    /** batch × (m×k · k×n), column-major; {@link #id()} names it in tests, benchmark params and reports. */
    public record GemmShape(long batch, long m, long n, long k) {
        public String id() {
            return batch == 1 ? "tall" + m + "x" + n + "x" + k : "batch" + batch + "x" + m + "x" + n + "x" + k;
        }

        public double flops() {
            return 2.0 * batch * m * n * k;
        }
    }

    public static final List<Integer> SQUARE_QUICK = List.of(128, 512, 2048);
    public static final List<Integer> SQUARE_FULL = List.of(64, 128, 256, 512, 1024, 2048, 4096);

    public static final List<GemmShape> ML_QUICK = List.of(
            new GemmShape(1, 4096, 1024, 1024),       // a 4096-token batch through a 1024×1024 layer
            new GemmShape(256, 64, 64, 64));          // 256 small products
    public static final List<GemmShape> ML_FULL = List.of(
            new GemmShape(1, 4096, 1024, 1024),
            new GemmShape(1, 16384, 1024, 4096),      // a wider layer (4096 → 1024)
            new GemmShape(1, 8192, 64, 4096),         // a thin output (a projection to 64)
            new GemmShape(256, 64, 64, 64),
            new GemmShape(4096, 16, 16, 16));         // many tiny products

    /** The shape with this {@link GemmShape#id()}. */
    public static GemmShape shape(String id) {
        for (List<GemmShape> list : List.of(ML_FULL, ML_QUICK)) {
            for (GemmShape s : list) {
                if (s.id().equals(id)) {
                    return s;
                }
            }
        }
        throw new IllegalArgumentException("no GEMM case called " + id);
    }
}
