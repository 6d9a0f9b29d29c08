package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * reduce.cl's BF16, F16 and I32 variants through {@link OpenClDevice#reduce}, the step the
 * in-process group hands to a device (PoCL here): three inputs spread over two devices, each device
 * reducing its share of the range, every output compared bit for bit with the contract computed
 * here — BF16/F16 widened, folded in list (rank) order in F32, avg divided, rounded once as
 * {@link NarrowFloat}; I32 wrapping. Tested at the SPI because a communicator only gives a device
 * work in the types it declares.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenClNarrowReduceTest {
    private static final int RANKS = 3;

    @TempDir
    static Path cache;
    private OpenClBackend backend;
    private List<OpenClDevice> devices;

    @BeforeAll
    void open() {
        OpenClTestSupport.assumeOpenCl();
        backend = new OpenClBackend(Config.defaults().with(Config.BACKEND, "opencl").with(Config.CACHE_DIR, cache.toString()));
        devices = backend.openClDevices();
        if (OpenClTestSupport.required()) {
            assertTrue(devices.size() >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices, got " + devices.size());
        }
        assumeTrue(devices.size() >= 2 && devices.get(0).addresses(devices.get(1)), "needs two OpenCL devices of one context");
    }

    @AfterAll
    void close() {
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void narrowFloatsFoldInListOrderInF32AndRoundOnce() {
        for (DType dtype : List.of(DType.BF16, DType.F16)) {
            for (ReduceOp op : ReduceOp.values()) {
                for (int count : new int[] {1, 1023, 100_003}) {
                    for (boolean inPlace : new boolean[] {false, true}) {
                        String what = op + " " + dtype + " count " + count + (inPlace ? " in place" : "");
                        short[][] inputs = new short[RANKS][count];
                        for (int r = 0; r < RANKS; r++) {
                            for (int i = 0; i < count; i++) {
                                inputs[r][i] = narrowInput(dtype, op, i, r);
                            }
                        }
                        List<MemorySegment> got = run(dtype, op, count, inPlace, r -> MemorySegment.ofArray(inputs[r]), what);
                        for (int i = 0; i < count; i++) {
                            short want = reference(dtype, op, inputs, i, false);
                            for (int r = 0; r < RANKS; r++) {
                                short bits = got.get(r).getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i);
                                if (bits != want) {
                                    assertEquals(Integer.toHexString(want & 0xFFFF), Integer.toHexString(bits & 0xFFFF),
                                            what + ": output " + r + " element " + i);
                                }
                            }
                        }
                        if (op == ReduceOp.SUM && count > 1000) {
                            int differ = 0;
                            for (int i = 0; i < count; i++) {
                                differ += reference(dtype, op, inputs, i, false) != reference(dtype, op, inputs, i, true) ? 1 : 0;
                            }
                            assertTrue(differ > 0, what + ": the inputs must tell list order from reverse order");
                        }
                    }
                }
            }
        }
    }

    @Test
    void integersWrapAndMinMaxAreExact() {
        for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.PROD, ReduceOp.MIN, ReduceOp.MAX)) {
            for (int count : new int[] {1, 1023, 100_003}) {
                int[][] inputs = new int[RANKS][count];
                for (int r = 0; r < RANKS; r++) {
                    for (int i = 0; i < count; i++) {
                        inputs[r][i] = (int) mix(i * 31L + r);
                    }
                }
                String what = op + " i32 count " + count;
                List<MemorySegment> got = run(DType.I32, op, count, false, r -> MemorySegment.ofArray(inputs[r]), what);
                for (int i = 0; i < count; i++) {
                    int want = inputs[0][i];
                    for (int r = 1; r < RANKS; r++) {
                        int x = inputs[r][i];
                        want = switch (op) {
                            case SUM -> want + x;
                            case PROD -> want * x;
                            case MIN -> Math.min(want, x);
                            default -> Math.max(want, x);
                        };
                    }
                    for (int r = 0; r < RANKS; r++) {
                        assertEquals(want, got.get(r).getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i), what + ": output " + r + " element " + i);
                    }
                }
            }
        }
    }

    @Test
    void whatHasNoKernelIsDeclinedForTheHost() {
        OpenClDevice d = devices.getFirst();
        List<BackendBuffer> i8 = List.of(d.allocate(DType.I8, 64), d.allocate(DType.I8, 64));
        List<BackendBuffer> i32 = List.of(d.allocate(DType.I32, 64), d.allocate(DType.I32, 64));
        try {
            assertFalse(d.reduce(ReduceOp.SUM, DType.I8, i8, 0, i8.subList(0, 1), 0, 64), "I8 has no reduce kernel");
            assertFalse(d.reduce(ReduceOp.AVG, DType.I32, i32, 0, i32.subList(0, 1), 0, 64), "I32 avg is not defined");
        } finally {
            i8.forEach(BackendBuffer::release);
            i32.forEach(BackendBuffer::release);
        }
    }

    /**
     * Inputs 0…RANKS−1 on devices 0, 1, 0; device of share s reduces elements of share s (split at
     * multiples of 1024 elements, so that sub-buffers are aligned) from every input into every
     * output. Returns each output's contents.
     */
    private List<MemorySegment> run(DType dtype, ReduceOp op, int count, boolean inPlace, java.util.function.IntFunction<MemorySegment> input,
                                    String what) {
        List<BackendBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (int r = 0; r < RANKS; r++) {
                OpenClDevice d = devices.get(r % 2);
                BackendBuffer send = d.allocate(dtype, count);
                send.copyIn(0, input.apply(r));
                sends.add(send);
                recvs.add(inPlace ? send : d.allocate(dtype, count));
            }
            long es = dtype.byteSize();
            int block = (count + RANKS - 1) / RANKS;
            block = Math.max(1024, (block + 1023) / 1024 * 1024);
            for (int s = 0; s < RANKS; s++) {
                long lo = Math.min(count, (long) s * block), hi = Math.min(count, lo + block);
                if (hi > lo) {
                    boolean took = devices.get(s % 2).reduce(op, dtype, sends, lo * es, recvs, lo * es, hi - lo);
                    assertTrue(took, what + ": the device declined share " + s);
                }
            }
            List<MemorySegment> out = new ArrayList<>();
            for (BackendBuffer b : recvs) {
                MemorySegment m = MemorySegment.ofArray(new byte[(int) (count * es)]);
                b.copyOut(0, m);
                out.add(m);
            }
            return out;
        } finally {
            sends.forEach(BackendBuffer::release);
            if (!inPlace) {
                recvs.forEach(BackendBuffer::release);
            }
        }
    }

    /**
     * Element i of input r: mixed signs and exponents (far enough apart that F32 itself rounds),
     * signed zeros, subnormals, NaN for min/max, and big − big + small, which keeps small only in
     * list order.
     */
    static short narrowInput(DType dtype, ReduceOp op, long i, int r) {
        long h = mix(i * 0x9E3779B97F4A7C15L + r * 0xC2B2AE3D27D4EB4FL + op.ordinal());
        float v = switch ((int) (h & 31)) {
            case 0 -> -0.0f;
            case 1 -> 0.0f;
            case 2 -> dtype == DType.BF16 ? Float.intBitsToFloat((int) (h >>> 40) & 0x3F0000) : Float.float16ToFloat((short) ((h >>> 40) & 0x3FF));
            case 3 -> op == ReduceOp.MIN || op == ReduceOp.MAX ? Float.NaN : 1.0f;
            case 4 -> op == ReduceOp.PROD ? 1.5f : r == 0 ? 8192f : r == 1 ? -8192f : 0x1p-14f;
            default -> {
                float m = 1 + ((h >>> 8) & 0xFFFFFF) / (float) (1 << 24);
                int spread = dtype == DType.BF16 ? 40 : 14;
                int e = op == ReduceOp.PROD ? (int) ((h >>> 32) & 1) - 1 : (int) Math.floorMod(h >>> 32, 2 * spread) - spread;
                yield ((h >>> 63) != 0 ? -m : m) * (float) Math.scalb(1.0, e);
            }
        };
        return dtype == DType.BF16 ? NarrowFloat.toBf16(v) : NarrowFloat.toF16(v);
    }

    /** The contract: widened, folded in list order (or reversed, to show order matters) in F32, avg divided, rounded once. */
    static short reference(DType dtype, ReduceOp op, short[][] inputs, int i, boolean reversed) {
        float acc = 0;
        for (int k = 0; k < inputs.length; k++) {
            short bits = inputs[reversed ? inputs.length - 1 - k : k][i];
            float x = dtype == DType.BF16 ? NarrowFloat.fromBf16(bits) : NarrowFloat.fromF16(bits);
            acc = k == 0 ? x : switch (op) {
                case SUM, AVG -> acc + x;
                case PROD -> acc * x;
                case MIN -> Math.min(acc, x);
                case MAX -> Math.max(acc, x);
            };
        }
        if (op == ReduceOp.AVG) {
            acc /= inputs.length;
        }
        return dtype == DType.BF16 ? NarrowFloat.toBf16(acc) : NarrowFloat.toF16(acc);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
