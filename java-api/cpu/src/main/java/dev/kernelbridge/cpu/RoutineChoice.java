package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.spi.GemmCall;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Which routine runs the GEMMs of a shape class on the CPU: the Vector API kernels or a native
 * library's. Decided once per class ({@link GemmCall#shapeClass()}), before its first call runs, and
 * kept: routines sum in different orders, so switching would change the bits of two identical calls.
 * In {@code auto} each routine that takes the class is timed on scratch buffers of its shape: one
 * untimed run each, then five rounds that run every candidate in turn, so that a moment of noise on
 * this machine falls on all of them alike; the best time of each decides. A call the chosen routine refuses (sizes
 * beyond its ints, k = 0, a type pair it lacks) runs on the Vector API kernels, which take every call.
 */
final class RoutineChoice {
    static final String VECTOR = "vector";
    static final Config.Knob SETTING = dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING;

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cpu");

    /** The routine kernelbridge.cpu.gemm names, or null for auto. */
    private final CpuGemmRoutine forced;
    private final CpuGemmRoutine vector;
    /** Every routine, the Vector API kernels first. */
    private final List<CpuGemmRoutine> routines;
    private final Map<Long, CpuGemmRoutine> chosen = new HashMap<>();

    RoutineChoice(String mode, List<CpuGemmRoutine> routines) {
        this.routines = List.copyOf(routines);
        this.vector = routines.getFirst();
        String m = mode.strip().toLowerCase(Locale.ROOT);
        if (!m.equals("auto") && routines.stream().noneMatch(r -> r.name().equals(m))) {
            throw new IllegalArgumentException(SETTING.property() + " must be auto or one of " + routines.stream().map(CpuGemmRoutine::name).toList()
                    + " (the routines found), got '" + mode + "'");
        }
        this.forced = m.equals("auto") ? null : routines.stream().filter(r -> r.name().equals(m)).findFirst().orElseThrow();
    }

    /** Scratch buffers shaped like a class: times one run of a routine on them. */
    interface Bench extends AutoCloseable {
        /** Whether {@code routine} takes the scratch call. */
        boolean takes(CpuGemmRoutine routine);

        /** Nanoseconds of one run of {@code routine}. */
        long once(CpuGemmRoutine routine);

        @Override
        void close();
    }

    private static final int ROUNDS = 5;

    /** The routine for {@code call}; {@code benchFor} makes scratch buffers of its class (null: they do not fit). */
    CpuGemmRoutine routineFor(GemmCall call, Function<GemmCall, Bench> benchFor) {
        if (routines.size() == 1) {
            return vector; // no native library: nothing to decide, no lock on the hot path
        }
        CpuGemmRoutine r = forced != null ? forced : chosen(call, benchFor);
        return r == vector || r.refusal(call) == null ? r : vector;
    }

    private synchronized CpuGemmRoutine chosen(GemmCall call, Function<GemmCall, Bench> benchFor) {
        return chosen.computeIfAbsent(call.shapeClass(), key -> decide(call, benchFor));
    }

    private CpuGemmRoutine decide(GemmCall call, Function<GemmCall, Bench> benchFor) {
        CpuGemmRoutine best = vector;
        StringBuilder why = new StringBuilder();
        try (Bench bench = benchFor.apply(call)) {
            if (bench == null) {
                why.append("no memory for scratch buffers");
            } else {
                List<CpuGemmRoutine> candidates = routines.stream().filter(bench::takes).toList();
                long[] nanos = new long[candidates.size()];
                java.util.Arrays.fill(nanos, Long.MAX_VALUE);
                candidates.forEach(bench::once); // untimed: JIT, the library's first-call set-up
                for (int round = 0; round < ROUNDS; round++) {
                    for (int i = 0; i < candidates.size(); i++) {
                        nanos[i] = Math.min(nanos[i], bench.once(candidates.get(i)));
                    }
                }
                long bestNanos = Long.MAX_VALUE;
                for (int i = 0; i < candidates.size(); i++) {
                    if (nanos[i] < bestNanos) {
                        best = candidates.get(i);
                        bestNanos = nanos[i];
                    }
                }
                for (CpuGemmRoutine r : routines) {
                    int i = candidates.indexOf(r);
                    why.append(why.isEmpty() ? "" : ", ").append(r.name()).append(i < 0 ? " cannot" : String.format(Locale.ROOT, " %.1f us", nanos[i] / 1e3));
                }
            }
        }
        String decision = String.format(Locale.ROOT, "%s %s%s m~%d n~%d k~%d: %s (%s)", call.inputType().label(), call.dtype().label(),
                call.transA().ordinal() + call.transB().ordinal() > 0 ? " " + call.transA().name().charAt(0) + call.transB().name().charAt(0) : "",
                call.m(), call.n(), call.k(), best.name(), why);
        LOG.log(System.Logger.Level.DEBUG, "cpu:0 GEMM routine for {0}", decision);
        return best;
    }
}
