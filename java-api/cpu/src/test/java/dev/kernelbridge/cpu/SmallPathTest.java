package dev.kernelbridge.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The small path ({@link SmallKernel}) and the packed path sum every element in the same order, so a
 * shape's result must not depend on which one {@code blocking.properties} gives it to: bitwise equal
 * for every type pair, both transposes, padded leading dimensions, offsets, batches, zero points and
 * the alpha/beta cases (beta = 0 over NaN, beta = 1, other beta), on random data; and when the
 * small path's column slabs run on several threads.
 */
@Tag("R03")
@Tag("R06")
class SmallPathTest {
    private static final int[][] SHAPES = {{1, 1, 1}, {8, 8, 8}, {3, 5, 7}, {17, 9, 33}, {31, 4, 2}, {33, 13, 64}, {64, 64, 64}, {5, 40, 129}};

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64", "BF16", "F16", "I8"})
    void smallAndPackedPathsAgreeBitwise(DType in) {
        DType out = in == DType.I8 ? DType.I32 : in;
        SplittableRandom rnd = new SplittableRandom(in.ordinal());
        int vectorBits = VectorGate.preferredBits();
        boolean wide = in == DType.F64;
        PackedKernel packed = wide ? new PackedVectorGemmF64() : new PackedVectorGemmF32();
        SmallKernel small = wide ? new SmallVectorGemmF64() : new SmallVectorGemmF32();
        Blocking base = Blocking.of(wide ? "f64" : in == DType.I8 ? "i8" : "f32", vectorBits, packed.mr(), packed.nr());
        CpuWorkers one = new CpuWorkers(1);
        BlockedGemm packedOnly = new BlockedGemm(packed, small, withSmall(base, 0, Long.MAX_VALUE), one);
        BlockedGemm smallFirst = new BlockedGemm(packed, small, withSmall(base, Long.MAX_VALUE, Long.MAX_VALUE), one);
        // Three threads, every shape split: column slabs each take the small path.
        try (CpuWorkers three = new CpuWorkers(3)) {
            BlockedGemm smallSplit = new BlockedGemm(packed, small, withSmall(base, Long.MAX_VALUE, 0), three);
            for (int[] shape : SHAPES) {
                compare(packedOnly, smallSplit, in, out, shape[0], shape[1], shape[2], Transpose.TRANS, Transpose.NO_TRANS, 0.5,
                        0, in == DType.I8 ? 3 : 0, rnd);
            }
        }
        for (int[] shape : SHAPES) {
            for (Transpose ta : Transpose.values()) {
                for (Transpose tb : Transpose.values()) {
                    for (double beta : in == DType.I8 ? new double[] {0, 1, -2} : new double[] {0, 1, 0.75}) {
                        int zeroA = in == DType.I8 ? rnd.nextInt(-128, 128) : 0, zeroB = in == DType.I8 ? rnd.nextInt(-128, 128) : 0;
                        if (in == DType.I8 && shape[2] > 256) {
                            continue; // the exact I8 slice with zero points is 256 deep
                        }
                        compare(packedOnly, smallFirst, in, out, shape[0], shape[1], shape[2], ta, tb, beta, zeroA, zeroB, rnd);
                    }
                }
            }
        }
    }

    private static Blocking withSmall(Blocking b, long smallMaxFlops, long parallelMinFlops) {
        return new Blocking(b.kc(), b.mc(), b.nc(), parallelMinFlops, smallMaxFlops);
    }

    private static void compare(BlockedGemm packedOnly, BlockedGemm smallFirst, DType in, DType out, int m, int n, int k,
                                Transpose ta, Transpose tb, double beta, int zeroA, int zeroB, SplittableRandom rnd) {
        int pad = 3, batch = 2;
        int lda = (ta == Transpose.NO_TRANS ? m : k) + pad, ldb = (tb == Transpose.NO_TRANS ? k : n) + pad, ldc = m + pad;
        long strideA = (long) lda * (ta == Transpose.NO_TRANS ? k : m) + 1, strideB = (long) ldb * (tb == Transpose.NO_TRANS ? n : k) + 2;
        long strideC = (long) ldc * n + 1;
        int offA = 1, offB = 2, offC = 3;
        MemorySegment a = random(in, offA + strideA * batch, rnd), b = random(in, offB + strideB * batch, rnd);
        MemorySegment c0 = random(out, offC + strideC * batch, rnd);
        if (beta == 0) {
            fillNaN(out, c0);
        }
        MemorySegment c1 = MemorySegment.ofArray(new byte[(int) c0.byteSize()]).copyFrom(c0);
        MemorySegment c2 = MemorySegment.ofArray(new byte[(int) c0.byteSize()]).copyFrom(c0);
        double alpha = in == DType.I8 ? 3 : 1.25;
        for (var pair : new Object[][] {{packedOnly, c1}, {smallFirst, c2}}) {
            MemorySegment c = (MemorySegment) pair[1];
            GemmCall call = new GemmCall(out, ta, tb, m, n, k, alpha, HostBuffer.wrap(a), offA, lda, strideA,
                    HostBuffer.wrap(b), offB, ldb, strideB, beta, HostBuffer.wrap(c), offC, ldc, strideC, batch, in, zeroA, zeroB);
            ((BlockedGemm) pair[0]).run(call, a, b, c);
        }
        assertArrayEquals(c1.toArray(ValueLayout.JAVA_BYTE), c2.toArray(ValueLayout.JAVA_BYTE),
                () -> in + "->" + out + " " + m + "x" + n + "x" + k + " " + ta + tb + " beta " + beta);
    }

    private static MemorySegment random(DType type, long elements, SplittableRandom rnd) {
        MemorySegment s = MemorySegment.ofArray(new byte[Math.toIntExact(elements * type.byteSize())]);
        for (long i = 0; i < elements; i++) {
            double v = rnd.nextDouble(-2, 2);
            switch (type) {
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, dev.kernelbridge.NarrowFloat.toBf16((float) v));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) v));
                case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(-128, 128));
                case I32 -> s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, rnd.nextInt(-1000, 1000));
            }
        }
        return s;
    }

    private static void fillNaN(DType type, MemorySegment s) {
        long n = s.byteSize() / type.byteSize();
        for (long i = 0; i < n; i++) {
            switch (type) {
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, Double.NaN);
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, Float.NaN);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) 0x7fc0);
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) 0x7e00);
                default -> { }
            }
        }
    }
}
