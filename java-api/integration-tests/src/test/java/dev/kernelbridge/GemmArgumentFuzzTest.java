package dev.kernelbridge;

import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import static dev.kernelbridge.FuzzedArguments.scalar;
import static dev.kernelbridge.FuzzedArguments.small;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * R22: GEMM descriptors from fuzzed input, on real CPU buffers (GemmOp on device buffers, and the
 * Blas facade on segments). Invariants: the only exception is IllegalArgumentException (the
 * argument contract), and a rejected call leaves C exactly as it was; an accepted call returns.
 * Sizes stay small so that every accepted call is quick.
 */
class GemmArgumentFuzzTest {
    private static KernelBridge bridge;

    @BeforeAll
    static void open() {
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"));
    }

    @AfterAll
    static void close() {
        bridge.close();
    }

    @Tag("R22")
    @FuzzTest(maxDuration = "30s")
    void gemmOpIsRunOrRejectedWithoutWritingC(FuzzedDataProvider data) {
        DType[] types = DType.values();
        DType ta = data.pickValue(types), tc = data.pickValue(types);
        int lenA = data.consumeInt(0, 300), lenB = data.consumeInt(0, 300), lenC = data.consumeInt(1, 300);
        try (DeviceBuffer a = bridge.allocate(ta, lenA); DeviceBuffer b = bridge.allocate(data.consumeBoolean() ? ta : data.pickValue(types), lenB);
             DeviceBuffer c = bridge.allocate(tc, lenC)) {
            byte[] before = fill(c, data.consumeLong());
            GemmOp.Builder op = GemmOp.builder().layout(data.pickValue(Layout.values()))
                    .transA(data.pickValue(Transpose.values())).transB(data.pickValue(Transpose.values()))
                    .shape(small(data), small(data), small(data)).alpha(scalar(data)).beta(scalar(data))
                    .a(a, small(data), small(data)).b(b, small(data), small(data)).c(c, small(data), small(data));
            if (data.consumeBoolean()) {
                op.batch(data.consumeLong(-2, 4), small(data), small(data), small(data));
            }
            if (data.consumeBoolean()) {
                op.zeroPoints(data.consumeInt(-300, 300), data.consumeInt(-300, 300));
            }
            try {
                bridge.gemm(op.build());
            } catch (IllegalArgumentException rejected) {
                assertArrayEquals(before, bytes(c), "a rejected call wrote C: " + rejected.getMessage());
            }
        }
    }

    @Tag("R22")
    @FuzzTest(maxDuration = "30s")
    void blasSegmentsAreRunOrRejectedWithoutWritingC(FuzzedDataProvider data) {
        try (Arena arena = Arena.ofConfined()) {
            DType in = data.pickValue(new DType[] {DType.F32, DType.BF16, DType.I8, DType.F64});
            DType out = data.pickValue(DType.values());
            MemorySegment a = arena.allocate(data.consumeInt(0, 600)), b = arena.allocate(data.consumeInt(0, 600));
            MemorySegment c = arena.allocate(data.consumeInt(1, 600));
            c.fill((byte) 0x5A);
            byte[] before = c.toArray(ValueLayout.JAVA_BYTE);
            try {
                bridge.blas().gemm(data.pickValue(Layout.values()), data.pickValue(Transpose.values()), data.pickValue(Transpose.values()),
                        small(data), small(data), small(data), scalar(data), in, a, small(data), b, small(data), scalar(data), out, c, small(data),
                        data.consumeInt(-200, 200), data.consumeInt(-200, 200));
            } catch (IllegalArgumentException rejected) {
                assertArrayEquals(before, c.toArray(ValueLayout.JAVA_BYTE), "a rejected call wrote C: " + rejected.getMessage());
            }
        }
    }

    private static byte[] fill(DeviceBuffer c, long seed) {
        byte[] bytes = new byte[(int) c.byteSize()];
        new java.util.Random(seed).nextBytes(bytes);
        c.copyFrom(0, MemorySegment.ofArray(bytes));
        return bytes;
    }

    private static byte[] bytes(DeviceBuffer c) {
        byte[] bytes = new byte[(int) c.byteSize()];
        c.copyTo(0, MemorySegment.ofArray(bytes));
        assertTrue(bytes.length == c.byteSize());
        return bytes;
    }
}
