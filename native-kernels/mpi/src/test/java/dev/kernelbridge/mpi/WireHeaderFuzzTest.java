package dev.kernelbridge.mpi;

import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.TransportCall;
import org.junit.jupiter.api.Test;

/**
 * R22: the collective wire header. A peer's header is foreign input; describing it for the mismatch
 * message must never throw (before, an unknown kind or dtype was an ArrayIndexOutOfBoundsException
 * in place of the CollectiveMismatchException the caller is promised).
 */
class WireHeaderFuzzTest {
    @Tag("R22")
    @FuzzTest(maxDuration = "20s")
    void anyHeaderIsDescribedWithoutThrowing(FuzzedDataProvider data) {
        long[] h = new long[data.consumeInt(0, 12)];
        for (int i = 0; i < h.length; i++) {
            h[i] = data.consumeLong();
        }
        String words = WireHeader.describe(h);
        assertTrue(words != null && !words.isEmpty());
    }

    @Test
    void everyRealCallRoundTripsIntoWords() {
        for (TransportCall.Kind kind : TransportCall.Kind.values()) {
            for (DType dtype : DType.values()) {
                long[] one = {1000};
                TransportCall call = new TransportCall(7, kind, dtype, ReduceOp.SUM, 1000, 2, null, null, false, one, new long[] {0}, one, new long[] {0});
                String words = WireHeader.describe(WireHeader.forPeer(call, 0, 0));
                assertTrue(words.contains(dtype.label()) && words.contains("count 1000") && words.endsWith("call #7"), words);
            }
        }
        assertEquals("kind#99(dtype#-1, count 5, op#42) as call #3", WireHeader.describe(new long[] {3, 99, -1, 42, 5, 0}));
    }
}
