package dev.kernelbridge.tuning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The grouped launch plan: its table layout against gemm.cl's defines, and how calls are split into launches. */
class GroupedGemmTableTest {
    private static final GemmParameters P = new GemmParameters(4, 2, 4, 2, 2, 0, 32); // MR 8, NR 4, WG 2

    /** Host buffers standing for device buffers, and the handle each one's launch arguments would carry. */
    private final Map<BackendBuffer, Long> handles = new IdentityHashMap<>();

    private BackendBuffer buffer(long handle) {
        BackendBuffer b = HostBuffer.wrap(MemorySegment.ofArray(new byte[16]));
        handles.put(b, handle);
        return b;
    }

    private static GemmCall call(DType in, DType out, long m, long n, long k, BackendBuffer a, BackendBuffer b, BackendBuffer c, long batch) {
        return new GemmCall(out, Transpose.TRANS, Transpose.NO_TRANS, m, n, k, 2, a, 3, Math.max(1, k), 100, b, 5, Math.max(1, k), 200,
                -1, c, 7, m, 300, batch, in, 0, 0);
    }

    private GroupedGemmTable.Plan plan(List<GemmCall> calls, long limit) {
        return GroupedGemmTable.plan(calls, v -> P, handles::get, limit);
    }

    @Test
    void theFieldIndicesAreTheKernelsDefines() throws IOException {
        String source = Files.readString(Path.of(System.getProperty("user.dir")).resolve("../kernels/gemm.cl").normalize());
        Map<String, Integer> defines = new HashMap<>();
        Matcher m = Pattern.compile("#define (KB_GT_\\w+|KB_GROUP_SLOTS) (\\d+)").matcher(source);
        while (m.find()) {
            defines.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        Map<String, Integer> ours = Map.ofEntries(Map.entry("KB_GROUP_SLOTS", GroupedGemmTable.SLOTS), Map.entry("KB_GT_K", GroupedGemmTable.K),
                Map.entry("KB_GT_A", GroupedGemmTable.A), Map.entry("KB_GT_B", GroupedGemmTable.B), Map.entry("KB_GT_ROWS", GroupedGemmTable.ROWS),
                Map.entry("KB_GT_TRANS", GroupedGemmTable.TRANS), Map.entry("KB_GT_SLOT", GroupedGemmTable.SLOT),
                Map.entry("KB_GT_OFFSET", GroupedGemmTable.OFFSET), Map.entry("KB_GT_LD", GroupedGemmTable.LD),
                Map.entry("KB_GT_ZERO", GroupedGemmTable.ZERO), Map.entry("KB_GT_PACKED", GroupedGemmTable.PACKED),
                Map.entry("KB_GT_FIRST_ROW", GroupedGemmTable.FIRST_ROW),
                Map.entry("KB_GT_C_SLOT", GroupedGemmTable.C_SLOT), Map.entry("KB_GT_C_OFFSET", GroupedGemmTable.C_OFFSET),
                Map.entry("KB_GT_C_LD", GroupedGemmTable.C_LD), Map.entry("KB_GT_FIRST_TILE", GroupedGemmTable.FIRST_TILE),
                Map.entry("KB_GT_FIELDS", GroupedGemmTable.FIELDS));
        assertEquals(ours, defines, "gemm.cl's grouped table layout and GroupedGemmTable's must agree");
    }

    @Test
    void batchItemsBecomeGroupsWithPrefixSumsOfPackedElementsAndTiles() {
        BackendBuffer a = buffer(1), b = buffer(2), c = buffer(3);
        // 9×5×3 twice (a batch of 2), then 1×1×0 (k == 0: tiles, nothing packed).
        GroupedGemmTable.Plan plan = plan(List.of(call(DType.F32, DType.F32, 9, 5, 3, a, b, c, 2), call(DType.F32, DType.F32, 1, 1, 0, a, b, c, 1)),
                1 << 20);
        assertEquals(List.of(), plan.alone());
        assertEquals(1, plan.launches().size());
        GroupedGemmTable.Launch l = plan.launches().getFirst();
        assertEquals(3, l.groups());
        long[] t = l.table();
        int f = GroupedGemmTable.FIELDS;
        // 9 rows: 2 panels of 8, 3 deep = 48 elements of A; 5 columns: 2 panels of 4 = 24 of B; 2 row panels × 1 block of 2 column panels.
        assertEquals(List.of(0L, 48L, 96L), List.of(t[GroupedGemmTable.A + GroupedGemmTable.PACKED], t[f + GroupedGemmTable.A + GroupedGemmTable.PACKED],
                t[2 * f + GroupedGemmTable.A + GroupedGemmTable.PACKED]));
        assertEquals(List.of(0L, 24L, 48L), List.of(t[GroupedGemmTable.B + GroupedGemmTable.PACKED], t[f + GroupedGemmTable.B + GroupedGemmTable.PACKED],
                t[2 * f + GroupedGemmTable.B + GroupedGemmTable.PACKED]));
        assertEquals(List.of(0L, 2L, 4L), List.of(t[GroupedGemmTable.FIRST_TILE], t[f + GroupedGemmTable.FIRST_TILE], t[2 * f + GroupedGemmTable.FIRST_TILE]));
        assertEquals(96, l.packedA());
        assertEquals(48, l.packedB());
        // Padded rows: 16 of A and 8 of B per item of the batch, none for the k == 0 group; the deepest k is 3.
        assertEquals(List.of(0L, 16L, 32L), List.of(t[GroupedGemmTable.A + GroupedGemmTable.FIRST_ROW],
                t[f + GroupedGemmTable.A + GroupedGemmTable.FIRST_ROW], t[2 * f + GroupedGemmTable.A + GroupedGemmTable.FIRST_ROW]));
        assertEquals(List.of(32L, 16L, 3L), List.of(l.rowsA(), l.rowsB(), l.maxK()));
        // Groups of one size pack as a box (group = dimension 2): 3 groups of at most 16 rows, 32 rows in all.
        assertTrue(l.boxed(0));
        assertArrayEquals(new long[] {16, 3, 3}, l.packRange(0));
        assertEquals(5, l.tiles());
        // Item 1 starts one stride further in every operand; B's trans is flipped as pack_panels reads columns.
        assertEquals(3 + 100, t[f + GroupedGemmTable.A + GroupedGemmTable.OFFSET]);
        assertEquals(5 + 200, t[f + GroupedGemmTable.B + GroupedGemmTable.OFFSET]);
        assertEquals(7 + 300, t[f + GroupedGemmTable.C_OFFSET]);
        assertEquals(1, t[GroupedGemmTable.A + GroupedGemmTable.TRANS]);
        assertEquals(1, t[GroupedGemmTable.B + GroupedGemmTable.TRANS]);
        assertEquals(List.of(2.0, -1.0), List.of(l.scalars()[2], l.scalars()[3]));
    }

    @Test
    void scalarsTravelInTheBuildsComputeType() {
        BackendBuffer a = buffer(1), b = buffer(2), c = buffer(3);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            GroupedGemmTable.Launch i8 = plan(List.of(call(DType.I8, DType.I32, 4, 4, 4, a, b, c, 1)), 1 << 20).launches().getFirst();
            MemorySegment s = i8.scalarBytes(arena);
            assertEquals(8, s.byteSize());
            assertEquals(List.of(2, -1), List.of(s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0), s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 1)));
            GroupedGemmTable.Launch f64 = plan(List.of(call(DType.F64, DType.F64, 4, 4, 4, a, b, c, 1)), 1 << 20).launches().getFirst();
            assertEquals(-1.0, f64.scalarBytes(arena).getAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, 1));
            assertEquals(GroupedGemmTable.FIELDS * 8L, f64.tableBytes(arena).byteSize());
        }
    }

    @Test
    void raggedGroupsPackByRowSearchWhereABoxWouldBeMostlyEmpty() {
        BackendBuffer a = buffer(1), b = buffer(2), c = buffer(3);
        List<GemmCall> calls = new ArrayList<>();
        calls.add(call(DType.F32, DType.F32, 200, 4, 5, a, b, c, 1));
        for (int g = 0; g < 7; g++) {
            calls.add(call(DType.F32, DType.F32, 3, 4, 5, a, b, c, 1));
        }
        GroupedGemmTable.Launch l = plan(calls, 1 << 20).launches().getFirst();
        // A: 200 rows pad to 200 (MR 8), the others to 8 each: 256 rows, a box of 8 × 200 = 1600.
        assertTrue(!l.boxed(0));
        assertArrayEquals(new long[] {256, 5, 1}, l.packRange(0));
        assertTrue(l.boxed(1), "every B has 4 columns");
    }

    @Test
    void eachTypePairIsALaunchAndBuffersBeyondTheSlotsStartTheNext() {
        List<GemmCall> calls = new ArrayList<>();
        for (int g = 0; g < GroupedGemmTable.SLOTS + 2; g++) {
            calls.add(call(DType.BF16, DType.BF16, 4, 4, 4, buffer(10 + g), buffer(100), buffer(1000 + g), 1));
        }
        calls.add(call(DType.BF16, DType.F32, 4, 4, 4, buffer(1), buffer(2), buffer(3), 1));
        GroupedGemmTable.Plan plan = plan(calls, 1 << 20);
        assertEquals(List.of(GroupedGemmTable.SLOTS, 2, 1), plan.launches().stream().map(GroupedGemmTable.Launch::groups).toList());
        GroupedGemmTable.Launch first = plan.launches().getFirst();
        assertEquals(new GemmVariant(DType.BF16, DType.BF16), first.variant());
        assertEquals(100, first.bSlots()[GroupedGemmTable.SLOTS - 1], "one B buffer: every slot repeats slot 0");
        assertEquals(1000 + GroupedGemmTable.SLOTS - 1, first.cSlots()[GroupedGemmTable.SLOTS - 1]);
        assertEquals(GroupedGemmTable.SLOTS - 1, first.table()[(GroupedGemmTable.SLOTS - 1) * GroupedGemmTable.FIELDS + GroupedGemmTable.C_SLOT]);
        assertEquals(new GemmVariant(DType.BF16, DType.F32), plan.launches().get(2).variant());
    }

    @Test
    void aCallLargerThanThePackingLimitIsLeftToThePlainPathAndTheRestStillShareALaunch() {
        BackendBuffer a = buffer(1), b = buffer(2), c = buffer(3);
        GemmCall big = call(DType.F32, DType.F32, 64, 64, 64, a, b, c, 1); // 64·64·4 bytes per packed operand
        GemmCall small = call(DType.F32, DType.F32, 8, 4, 4, a, b, c, 1);
        GroupedGemmTable.Plan plan = plan(List.of(small, big, small), 64 * 64 * 4 - 1);
        assertEquals(List.of(big), plan.alone());
        assertEquals(1, plan.launches().size());
        assertEquals(2, plan.launches().getFirst().groups());
        assertTrue(plan.launches().getFirst().packedA() * 4 <= 64 * 64 * 4);
    }
}
