package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import static dev.kernelbridge.FuzzedArguments.scalar;
import static dev.kernelbridge.FuzzedArguments.small;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * R22 for grouped GEMMs: the ragged form (offsets, per-expert B stride) and the general form (one
 * descriptor per group) from fuzzed input, on real CPU memory. Invariants: the only exception is
 * IllegalArgumentException, and a rejected call leaves every C exactly as it was, even when only
 * one group of many is wrong; an accepted call returns.
 */
class GroupedArgumentFuzzTest {
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
    void raggedIsRunOrRejectedWithoutWritingC(FuzzedDataProvider data) {
        try (Arena arena = Arena.ofConfined()) {
            DType in = data.pickValue(new DType[] {DType.F32, DType.F64, DType.BF16, DType.I8});
            DType out = data.consumeBoolean() ? in.computeType() : data.pickValue(DType.values());
            long[] offsets = new long[data.consumeInt(0, 6)];
            long row = data.consumeLong(-2, 3);
            for (int g = 0; g < offsets.length; g++) {
                offsets[g] = row;
                row += data.consumeInt(0, 9) == 0 ? data.consumeLong(-4, 4) : data.consumeLong(0, 12);
            }
            MemorySegment a = arena.allocate(data.consumeInt(0, 1200)), b = arena.allocate(data.consumeInt(0, 1200));
            MemorySegment c = arena.allocate(data.consumeInt(1, 1200));
            c.fill((byte) 0x5A);
            byte[] before = c.toArray(ValueLayout.JAVA_BYTE);
            try {
                bridge.groupedGemm().gemmRagged(data.pickValue(Layout.values()), data.pickValue(Transpose.values()),
                        data.pickValue(Transpose.values()), offsets.length == 0 && data.consumeBoolean() ? null : offsets,
                        small(data), small(data), scalar(data), in, a, small(data), b, small(data), small(data), scalar(data), out, c, small(data));
            } catch (IllegalArgumentException rejected) {
                assertArrayEquals(before, c.toArray(ValueLayout.JAVA_BYTE), "a rejected call wrote C: " + rejected.getMessage());
            }
        }
    }

    @Tag("R22")
    @FuzzTest(maxDuration = "30s")
    void generalFormIsRunOrRejectedWithoutWritingAnyC(FuzzedDataProvider data) {
        try (Arena arena = Arena.ofConfined()) {
            DType in = data.pickValue(new DType[] {DType.F32, DType.F64, DType.F16, DType.I8});
            DType out = data.consumeBoolean() ? in.computeType() : data.pickValue(DType.values());
            int groups = data.consumeInt(1, 5);
            // Array lengths differ from the group count now and then: that too must be rejected by name.
            int len = data.consumeInt(0, 12) == 0 ? data.consumeInt(0, 6) : groups;
            Transpose[] ta = new Transpose[len], tb = new Transpose[len];
            long[] m = new long[len], n = new long[len], k = new long[len], lda = new long[len], ldb = new long[len], ldc = new long[len];
            double[] alpha = new double[len], beta = new double[len];
            MemorySegment[] a = new MemorySegment[len], b = new MemorySegment[len], c = new MemorySegment[len];
            List<byte[]> before = new ArrayList<>();
            for (int g = 0; g < len; g++) {
                ta[g] = data.pickValue(Transpose.values());
                tb[g] = data.pickValue(Transpose.values());
                m[g] = small(data);
                n[g] = small(data);
                k[g] = small(data);
                lda[g] = small(data);
                ldb[g] = small(data);
                ldc[g] = small(data);
                alpha[g] = scalar(data);
                beta[g] = scalar(data);
                a[g] = data.consumeInt(0, 20) == 0 ? null : arena.allocate(data.consumeInt(0, 900));
                b[g] = arena.allocate(data.consumeInt(0, 900));
                c[g] = arena.allocate(data.consumeInt(1, 900));
                c[g].fill((byte) (0x30 + g));
                before.add(c[g].toArray(ValueLayout.JAVA_BYTE));
            }
            try {
                bridge.groupedGemm().gemmBatch(data.pickValue(Layout.values()), ta, tb, m, n, k, alpha, in, a, lda, b, ldb, beta, out, c, ldc);
            } catch (IllegalArgumentException rejected) {
                for (int g = 0; g < len; g++) {
                    assertArrayEquals(before.get(g), c[g].toArray(ValueLayout.JAVA_BYTE),
                            "a rejected call wrote C of group " + g + ": " + rejected.getMessage());
                }
            }
        }
    }

}
