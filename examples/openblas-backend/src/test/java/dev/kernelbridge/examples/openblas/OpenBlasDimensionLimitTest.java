package dev.kernelbridge.examples.openblas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * RELIABILITY.md R10: OpenBLAS's CBLAS takes 32-bit ints (LP64). The choice here is to reject, not
 * to tile: a leading dimension above 2^31−1 cannot be tiled away (every column is that far apart),
 * and a silent narrowing would make OpenBLAS read and write the wrong memory. A column-major C with
 * one column and ldc = 2^31 is legal and small, so the test needs no 8 GiB: the call is refused with
 * UnsupportedOperationException naming the limit, and C keeps its bits.
 */
class OpenBlasDimensionLimitTest {
    @Tag("R10")
    @Test
    void aLeadingDimensionAbove32BitsIsRefusedNamingTheLimitNeverNarrowed() {
        OpenBlasBackendProvider provider = new OpenBlasBackendProvider();
        assumeTrue(provider.probe().available(), provider.probe().cause());
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, provider.name()), List.of(provider))) {
            Device d = bridge.device(provider.name() + ":0");
            long huge = 1L << 31; // (int) huge would be Integer.MIN_VALUE
            int m = 4;
            try (DeviceBuffer a = bridge.allocate(d, DType.F32, m).copyFrom(new float[] {1, 2, 3, 4});
                 DeviceBuffer b = bridge.allocate(d, DType.F32, 1).copyFrom(new float[] {2});
                 DeviceBuffer c = bridge.allocate(d, DType.F32, m).copyFrom(new float[] {9, 9, 9, 9})) {
                GemmOp op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, 1, 1).alpha(1)
                        .a(a, 0, huge).b(b, 0, 1).beta(0).c(c, 0, huge).build();
                UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> bridge.gemm(op));
                assertTrue(e.getMessage().contains("2^31-1") && e.getMessage().contains(String.valueOf(huge)), e.getMessage());
                assertArrayEquals(new float[] {9, 9, 9, 9}, c.toFloatArray(), "C after a refused call");
                // The same GEMM with 32-bit leading dimensions runs.
                bridge.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, 1, 1).alpha(1).a(a, 0, m).b(b, 0, 1).beta(0).c(c, 0, m).build());
                assertArrayEquals(new float[] {2, 4, 6, 8}, c.toFloatArray());
            }
        }
    }
}
