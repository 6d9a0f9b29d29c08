package dev.kernelbridge.tuning;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tunables of {@code gemm.cl}, as the -D defines its banner documents. Values are data (from
 * the tuning database); this record only checks that they are in the range the kernel supports.
 */
public record GemmParameters(int vw, int mv, int nr, int ku, int wg, int la, int kc) {
    private static final Set<Integer> VECTOR_WIDTHS = Set.of(1, 2, 4, 8, 16);

    /** The kernel's own defaults, safe on any OpenCL 1.2 device (CUDA builds set KB_VW to 1). */
    public static final GemmParameters KERNEL_DEFAULTS = new GemmParameters(4, 2, 4, 2, 1, 0, 32);

    public GemmParameters {
        require(VECTOR_WIDTHS.contains(vw), "KB_VW must be 1, 2, 4, 8 or 16, got " + vw);
        require(mv >= 1 && mv <= 8, "KB_MV must be in 1..8, got " + mv);
        require(nr >= 1 && nr <= 32, "KB_NR must be in 1..32, got " + nr);
        require(ku >= 1 && ku <= 16, "KB_KU must be in 1..16, got " + ku);
        require(wg >= 1 && wg <= 1024, "KB_WG must be in 1..1024, got " + wg);
        require(la == 0 || la == 1, "KB_LA must be 0 or 1, got " + la);
        require(kc >= 1 && kc <= 512, "KB_KC must be in 1..512, got " + kc);
    }

    private static void require(boolean ok, String rule) {
        if (!ok) {
            throw new IllegalArgumentException(rule);
        }
    }

    /** Rows of a register tile. */
    public int mr() { return vw * mv; }

    public Map<String, Integer> asDefines() {
        Map<String, Integer> d = new LinkedHashMap<>();
        d.put("KB_VW", vw);
        d.put("KB_MV", mv);
        d.put("KB_NR", nr);
        d.put("KB_KU", ku);
        d.put("KB_WG", wg);
        d.put("KB_LA", la);
        d.put("KB_KC", kc);
        return d;
    }

    /**
     * Reads the defines back; a missing or non-integer value is an IllegalArgumentException, except
     * the local-memory pair (KB_LA, KB_KC), which defaults to off.
     */
    public static GemmParameters fromDefines(Map<String, ?> d) {
        return new GemmParameters(get(d, "KB_VW", null), get(d, "KB_MV", null), get(d, "KB_NR", null), get(d, "KB_KU", null),
                get(d, "KB_WG", null), get(d, "KB_LA", 0), get(d, "KB_KC", 32));
    }

    private static int get(Map<String, ?> d, String key, Integer fallback) {
        Object v = d.get(key);
        if (v == null && fallback != null) {
            return fallback;
        }
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new IllegalArgumentException(key + " must be an integer, got " + v);
        }
        return n.intValue();
    }

    public String buildOptions() {
        StringBuilder sb = new StringBuilder();
        asDefines().forEach((k, v) -> sb.append("-D").append(k).append('=').append(v).append(' '));
        return sb.toString().trim();
    }

    @Override
    public String toString() {
        return "VW=" + vw + " MV=" + mv + " NR=" + nr + " KU=" + ku + " WG=" + wg + (la == 1 ? " LA=1 KC=" + kc : "");
    }
}
