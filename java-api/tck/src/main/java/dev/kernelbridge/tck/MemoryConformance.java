package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Where operands live (RELIABILITY.md R08, R11, R21): element and byte offsets across heap arrays,
 * heap segments and native segments; accuracy against k up to 65536; exact sizes of the memory a
 * backend hands out. Mixed into {@link ConformanceKit}.
 */
public interface MemoryConformance extends KitContext {

    /** One place to put an operand of {@code n} floats at element offset {@code off} (or a byte offset for the odd ones). */
    record Placing(String name, long byteOffset, IntFunction<MemorySegment> make) { }

    @Tag("R08")
    @Tag("gemm-arguments")
    @Test
    default void oddOffsetsAndMisalignedBytesInEveryKindOfMemoryGiveTheResultOrAClearRejection() {
        requireDeclared(DType.F32);
        Blas blas = bridge().blas(Dispatch.pinned(device()));
        int m = 7, n = 5, k = 6;
        SplittableRandom rnd = new SplittableRandom(8);
        float[] a = new float[m * k], b = new float[k * n], want = new float[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextInt(-3, 4);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextInt(-3, 4);
        }
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < k; p++) {
                for (int i = 0; i < m; i++) {
                    want[i + j * m] += a[i + p * m] * b[p + j * k];
                }
            }
        }
        // Heap arrays with element offsets, netlib style.
        for (int off : new int[] {1, 10}) {
            float[] ha = new float[off + a.length], hb = new float[off + b.length], hc = new float[off + want.length];
            System.arraycopy(a, 0, ha, off, a.length);
            System.arraycopy(b, 0, hb, off, b.length);
            java.util.Arrays.fill(hc, -5f);
            blas.sgemm("N", "N", m, n, k, 1f, ha, off, m, hb, off, k, 0f, hc, off, m);
            assertEquals(-5f, hc[0], "heap array, offset " + off + ": the element before C");
            assertTrue(java.util.Arrays.equals(want, java.util.Arrays.copyOfRange(hc, off, off + want.length)), "heap array, offset " + off);
        }
        try (Arena arena = Arena.ofConfined()) {
            List<Placing> places = new ArrayList<>();
            for (int off : new int[] {1, 10}) {
                places.add(new Placing("heap segment, element offset " + off, off * 4L,
                        len -> MemorySegment.ofArray(new float[off + len]).asSlice(off * 4L)));
                places.add(new Placing("native segment, element offset " + off, off * 4L,
                        len -> arena.allocate((off + len) * 4L, 64).asSlice(off * 4L)));
            }
            for (int bytes : new int[] {1, 2, 3}) {
                places.add(new Placing("native segment, byte offset " + bytes, bytes,
                        len -> arena.allocate(len * 4L + bytes, 64).asSlice(bytes, len * 4L)));
                places.add(new Placing("heap byte[] segment, byte offset " + bytes, bytes,
                        len -> MemorySegment.ofArray(new byte[len * 4 + bytes]).asSlice(bytes, len * 4L)));
            }
            int correct = 0, rejected = 0;
            for (Placing p : places) {
                MemorySegment sa = p.make().apply(a.length), sb = p.make().apply(b.length), sc = p.make().apply(want.length);
                for (int i = 0; i < a.length; i++) {
                    sa.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, a[i]);
                }
                for (int i = 0; i < b.length; i++) {
                    sb.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, b[i]);
                }
                for (int i = 0; i < want.length; i++) {
                    sc.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, -5f);
                }
                try {
                    blas.sgemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1f, sa, m, sb, k, 0f, sc, m);
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(want[i], sc.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i), p.name() + ": C[" + i + "]");
                    }
                    correct++;
                } catch (IllegalArgumentException e) {
                    assertTrue(p.byteOffset() % 4 != 0, p.name() + ": an aligned operand was rejected: " + e.getMessage());
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(-5f, sc.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i), p.name() + ": rejected but C[" + i + "] written");
                    }
                    rejected++;
                }
            }
            reportFigures().put("odd offsets correct/rejected", correct + "/" + rejected);
        }
    }

    @Tag("R11")
    @Tag("gemm-semantics")
    @Test
    default void errorGrowsWithKWithinTheWorstCaseBound() {
        requireDeclared(DType.F32);
        Blas blas = bridge().blas(Dispatch.pinned(device()));
        double u = Math.scalb(1.0, -24), suspectC = 4;
        int m = 3, n = 2;
        double worstLinear = 0, worstSqrt = 0;
        for (int k : new int[] {1, 7, 64, 1000, 16384, 65536}) {
            SplittableRandom rnd = new SplittableRandom(k);
            float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextDouble(-1, 1);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) rnd.nextDouble(-1, 1);
            }
            for (int i = 0; i < c.length; i++) {
                c[i] = (float) rnd.nextDouble(-1, 1);
            }
            float[] c0 = c.clone();
            float alpha = 0.75f, beta = 0.5f;
            blas.sgemm("N", "N", m, n, k, alpha, a, m, b, k, beta, c, m);
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    double dot = 0, gauge = 0;
                    for (int p = 0; p < k; p++) {
                        double x = (double) a[i + p * m] * b[p + j * k];
                        dot += x;
                        gauge += Math.abs(x);
                    }
                    double ref = alpha * dot + beta * (double) c0[i + j * m];
                    gauge = Math.abs(alpha) * gauge + Math.abs(beta * (double) c0[i + j * m]);
                    double err = Math.abs(c[i + j * m] - ref);
                    double linear = err / (k * u * gauge), sqrt = err / (Math.sqrt(k) * u * gauge);
                    worstLinear = Math.max(worstLinear, linear);
                    worstSqrt = Math.max(worstSqrt, sqrt);
                    assertTrue(linear <= 2, String.format("k = %d, C(%d,%d): error %.3g is above 2·k·u·gauge (ratio %.3f)", k, i, j, err, linear));
                    if (sqrt > suspectC) {
                        System.getLogger("dev.kernelbridge.tck").log(System.Logger.Level.WARNING,
                                "suspect accuracy on {0}: k = {1}, C({2},{3}) error is {4} times √k·u·gauge", device().id(), k, i, j, sqrt);
                    }
                }
            }
        }
        System.getLogger("dev.kernelbridge.tck").log(System.Logger.Level.INFO, "accuracy on {0}: max error / (k·u·gauge) = {1}, / (√k·u·gauge) = {2}",
                device().id(), worstLinear, worstSqrt);
        reportFigures().put("max error/(k·u·gauge)", worstLinear);
        reportFigures().put("max error/(√k·u·gauge)", worstSqrt);
    }

    @Tag("R21")
    @Tag("lifetime")
    @Test
    default void memoryHandedOutHasItsExactSizeAndOnePastTheEndIsOutOfBounds() {
        DType dtype = firstDtype();
        Backend backend = providers().stream().filter(p -> p.name().equals(device().backend())).findFirst().orElseThrow().open(config());
        try {
            BackendDevice d = backend.devices().get(Integer.parseInt(deviceId().substring(deviceId().indexOf(':') + 1)));
            BackendBuffer buf = d.allocate(dtype, 17);
            try {
                assertEquals(17L * dtype.byteSize(), buf.byteSize(), "the buffer's size");
                buf.hostSegment().ifPresent(s -> {
                    assertEquals(17L * dtype.byteSize(), s.byteSize(), "the host view's size");
                    assertThrows(IndexOutOfBoundsException.class, () -> s.get(ValueLayout.JAVA_BYTE, s.byteSize()), "one byte past the end");
                });
            } finally {
                buf.release();
            }
            if (d.sharesHostMemory()) {
                try (Arena arena = Arena.ofConfined()) {
                    BackendBuffer wrapped = d.wrapHost(arena.allocate(17L * dtype.byteSize()));
                    try {
                        wrapped.hostSegment().ifPresent(s -> assertThrows(IndexOutOfBoundsException.class,
                                () -> s.get(ValueLayout.JAVA_BYTE, 17L * dtype.byteSize()), "one byte past a wrapped segment"));
                    } finally {
                        wrapped.release();
                    }
                }
            }
        } finally {
            backend.close();
        }
        try (DeviceBuffer b = bridge().allocate(device(), dtype, 17)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> b.copyTo(17, MemorySegment.ofArray(new byte[dtype.byteSize()])), "one element past the end through the API");
            assertTrue(e.getMessage().contains("index"), e.getMessage());
        }
    }
}
