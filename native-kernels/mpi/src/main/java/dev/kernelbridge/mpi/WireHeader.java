package dev.kernelbridge.mpi;

import dev.kernelbridge.DType;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.TransportCall;
import java.util.Locale;

/**
 * The header every rank sends each peer before a collective: sequence, kind, dtype, op, count, root
 * (common to all peers), then three longs of all-to-all's per-peer agreement (see MpiTransport).
 * Ranks compare headers as raw longs; {@link #describe} turns one into words for the mismatch
 * message. A header comes from another process — another build, a corrupt or foreign message — so
 * describing one never throws: values this build does not know are shown as numbers.
 */
final class WireHeader {
    static final int LONGS = 9;
    static final int COMMON = 6;

    private WireHeader() { }

    /**
     * The header for {@code peer}: the common six, then for all-to-all what this rank sends the peer,
     * what it expects from the peer, and its largest block.
     */
    static long[] forPeer(TransportCall call, int peer, long largest) {
        boolean a2a = call.kind() == TransportCall.Kind.ALL_TO_ALL_V;
        return new long[] {call.sequence(), call.kind().ordinal(), call.dtype().ordinal(), call.op().ordinal(), call.count(), call.root(),
                a2a ? call.sendCounts()[peer] : 0, a2a ? call.recvCounts()[peer] : 0, largest};
    }

    static String describe(long[] h) {
        if (h == null || h.length < COMMON) {
            return "a header of " + (h == null ? "no" : String.valueOf(h.length)) + " words (expected " + LONGS + ")";
        }
        String kind = name(TransportCall.Kind.values(), h[1], "kind");
        String dtype = h[2] >= 0 && h[2] < DType.values().length ? DType.values()[(int) h[2]].label() : "dtype#" + h[2];
        String op = name(ReduceOp.values(), h[3], "op");
        boolean broadcast = h[1] == TransportCall.Kind.BROADCAST.ordinal();
        return String.format(Locale.ROOT, "%s(%s, count %d, %s%s) as call #%d", kind, dtype, h[4], op,
                broadcast ? ", root " + h[5] : "", h[0]);
    }

    private static String name(Enum<?>[] values, long ordinal, String what) {
        return ordinal >= 0 && ordinal < values.length ? values[(int) ordinal].name().toLowerCase(Locale.ROOT) : what + "#" + ordinal;
    }
}
