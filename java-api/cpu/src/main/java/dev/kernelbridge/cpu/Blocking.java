package dev.kernelbridge.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * Cache blocking of the CPU GEMM, read from {@code blocking.properties} (data, not code). Keys fall
 * back from the most specific to the least: "f32.512.kc" (type and vector bits), then "f32.kc".
 * Values are rounded to multiples of the microkernel tile. A system property
 * {@code kernelbridge.cpu.blocking.<key>} overrides a key (for sweeps; not a user setting).
 *
 * @param kc depth of a packed block: a kc×NR B micro-panel should sit in L1
 * @param mc rows of a packed A block: mc×kc should sit in L2
 * @param nc columns of a packed B block: kc×nc should sit in L3
 * @param parallelMinFlops below this many flops one GEMM runs on the calling thread alone
 * @param smallMaxFlops up to this many flops per batch item (and k ≤ kc) the item skips packing
 *                      ({@link SmallKernel}); 0 turns the small path off
 */
record Blocking(int kc, int mc, int nc, long parallelMinFlops, long smallMaxFlops) {
    private static final Properties DATA = load();

    static Blocking of(String type, int vectorBits, int mr, int nr) {
        int kc = Math.max(1, (int) lookup(type, vectorBits, "kc"));
        int mc = BlockedGemm.roundUp((int) lookup(type, vectorBits, "mc"), mr);
        int nc = BlockedGemm.roundUp((int) lookup(type, vectorBits, "nc"), nr);
        return new Blocking(kc, mc, nc, lookup(type, vectorBits, "parallel.min.flops"), lookup(type, vectorBits, "small.max.flops"));
    }

    /**
     * I8 runs on the F32 microkernel and stays exact while a k slice's sum fits F32's 24-bit
     * significand: products of I8 values are at most 2^14, so slices of 1024 are exact; with zero
     * points the differences reach ±255 and products 2^16, so slices of 256. Correctness, not tuning.
     */
    static Blocking exactI8(Blocking b, boolean zeroPoints) {
        return new Blocking(Math.min(b.kc(), zeroPoints ? 256 : 1024), b.mc(), b.nc(), b.parallelMinFlops(), b.smallMaxFlops());
    }

    /** Whether one batch item of this shape takes the small path (see smallMaxFlops). */
    boolean small(long m, long n, long k) {
        return k <= kc && 2.0 * m * n * k <= smallMaxFlops;
    }

    private static long lookup(String type, int vectorBits, String key) {
        for (String name : new String[] {type + "." + vectorBits + "." + key, type + "." + key, key}) {
            // A system property overrides the file, key by key: how a sweep tries other values.
            String v = System.getProperty("kernelbridge.cpu.blocking." + name, DATA.getProperty(name));
            if (v != null) {
                return Long.parseLong(v.trim());
            }
        }
        throw new IllegalStateException("blocking.properties has no value for " + type + "." + key);
    }

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = Blocking.class.getResourceAsStream("blocking.properties")) {
            if (in == null) {
                throw new IllegalStateException("blocking.properties is missing from the kernelbridge-cpu jar");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
