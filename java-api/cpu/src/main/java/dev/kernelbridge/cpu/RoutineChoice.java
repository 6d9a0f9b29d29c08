package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.spi.GemmCall;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongBiFunction;

/**
 * Which routine runs the GEMMs of a shape class on the CPU: the Vector API kernels or a native
 * library's. Decided once per class ({@link GemmCall#shapeClass()}), before its first call runs, and
 * kept: routines sum in different orders, so switching would change the bits of two identical calls.
 * In {@code auto} each routine that takes the class is timed on scratch buffers of its shape (one
 * untimed run, then the best of three); the fastest wins. A call the chosen routine refuses (sizes
 * beyond its ints, k = 0, a type pair it lacks) runs on the Vector API kernels, which take every call.
 */
final class RoutineChoice {
    static final String VECTOR = "vector";
    static final Config.Knob SETTING = dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING;

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cpu");

    private final String mode;
    private final CpuGemmRoutine vector;
    /** Every routine, the Vector API kernels first. */
    private final List<CpuGemmRoutine> routines;
    private final Map<Long, CpuGemmRoutine> chosen = new HashMap<>();
    private final List<String> decisions = new ArrayList<>();

    RoutineChoice(String mode, List<CpuGemmRoutine> routines) {
        this.routines = List.copyOf(routines);
        this.vector = routines.getFirst();
        String m = mode.strip().toLowerCase(Locale.ROOT);
        if (!m.equals("auto") && routines.stream().noneMatch(r -> r.name().equals(m))) {
            throw new IllegalArgumentException(SETTING.property() + " must be auto or one of " + routines.stream().map(CpuGemmRoutine::name).toList()
                    + " (the routines found), got '" + mode + "'");
        }
        this.mode = m;
    }

    /** The routine for {@code call}; {@code timeNanos} times a routine on the class's scratch shape (negative: it cannot run there). */
    synchronized CpuGemmRoutine routineFor(GemmCall call, ToLongBiFunction<GemmCall, CpuGemmRoutine> timeNanos) {
        CpuGemmRoutine r;
        if (!mode.equals("auto")) {
            r = routines.stream().filter(x -> x.name().equals(mode)).findFirst().orElseThrow();
        } else if (routines.size() == 1) {
            return vector;
        } else {
            r = chosen.get(call.shapeClass());
            if (r == null) {
                r = decide(call, timeNanos);
                chosen.put(call.shapeClass(), r);
            }
        }
        return r == vector || r.refusal(call) == null ? r : vector;
    }

    private CpuGemmRoutine decide(GemmCall call, ToLongBiFunction<GemmCall, CpuGemmRoutine> timeNanos) {
        CpuGemmRoutine best = vector;
        long bestNanos = Long.MAX_VALUE;
        StringBuilder why = new StringBuilder();
        for (CpuGemmRoutine r : routines) {
            long t = timeNanos.applyAsLong(call, r);
            why.append(why.isEmpty() ? "" : ", ").append(r.name()).append(t < 0 ? " cannot" : String.format(Locale.ROOT, " %.1f us", t / 1e3));
            if (t >= 0 && t < bestNanos) {
                best = r;
                bestNanos = t;
            }
        }
        String decision = String.format(Locale.ROOT, "%s %s%s m~%d n~%d k~%d: %s (%s)", call.inputType().label(), call.dtype().label(),
                call.transA().ordinal() + call.transB().ordinal() > 0 ? " " + call.transA().name().charAt(0) + call.transB().name().charAt(0) : "",
                call.m(), call.n(), call.k(), best.name(), why);
        decisions.add(decision);
        LOG.log(System.Logger.Level.DEBUG, "cpu:0 GEMM routine for {0}", decision);
        return best;
    }

    /** What auto decided so far, one line per shape class, in order. */
    synchronized List<String> decisions() {
        return List.copyOf(decisions);
    }

    List<CpuGemmRoutine> routines() { return routines; }

    String mode() { return mode; }
}
