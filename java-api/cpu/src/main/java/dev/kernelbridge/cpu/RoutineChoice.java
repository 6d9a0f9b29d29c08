package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.spi.GemmCall;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Which routine runs the GEMMs of a shape class on the CPU: the Vector API kernels or a native
 * library's. Decided once per class ({@link GemmCall#shapeClass()}), before its first call runs, and
 * kept: routines sum in different orders, so switching would change the bits of two identical calls.
 *
 * <p>A choice {@code kernelbridge tune} stored for this machine is taken as it is, so the bits stay
 * the same from run to run. Otherwise, in {@code auto}, every routine that takes the class is first
 * checked against the Vector API kernels on small integers (exact in every routine, so any
 * difference is a fault) and then timed on scratch buffers of its shape, in rounds that run every
 * candidate in turn; the median round of each decides. A round during which the JIT compiler finished
 * work does not count, nor do those before it: on a machine with few cores the compiler takes one
 * while the first calls run, and a library whose threads wait for each other at barriers (OpenMP)
 * then looks several times slower than it is. A call the chosen routine refuses (sizes beyond its
 * ints, k = 0, a type pair it lacks) runs on the Vector API kernels, which take every call.
 */
final class RoutineChoice {
    static final String VECTOR = "vector";
    static final Config.Knob SETTING = dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING;

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cpu");
    /** Rounds a decision in a plain run takes; {@code tune} takes more. */
    static final int ROUNDS = 5;
    /** After this long, rounds count even while the compiler is busy: a decision must end. */
    private static final long QUIET_WAIT_NANOS = 2_000_000_000L;

    /** The routine kernelbridge.cpu.gemm names, or null for auto. */
    private final CpuGemmRoutine forced;
    private final CpuGemmRoutine vector;
    /** Every routine, the Vector API kernels first. */
    private final List<CpuGemmRoutine> routines;
    private final StoredChoices stored;
    private final Map<Long, CpuGemmRoutine> chosen = new ConcurrentHashMap<>();
    /** The class asked for last and its routine: a framework repeats one shape, and then no map is read. */
    private volatile Last last;

    private record Last(long shapeClass, CpuGemmRoutine routine) { }

    RoutineChoice(String mode, List<CpuGemmRoutine> routines, StoredChoices stored) {
        this.routines = List.copyOf(routines);
        this.vector = routines.getFirst();
        this.stored = stored;
        String m = mode.strip().toLowerCase(Locale.ROOT);
        if (!m.equals("auto") && routines.stream().noneMatch(r -> r.name().equals(m))) {
            throw new IllegalArgumentException(SETTING.property() + " must be auto or one of " + routines.stream().map(CpuGemmRoutine::name).toList()
                    + " (the routines found), got '" + mode + "'");
        }
        this.forced = m.equals("auto") ? null : routines.stream().filter(r -> r.name().equals(m)).findFirst().orElseThrow();
    }

    List<CpuGemmRoutine> routines() { return routines; }

    /** Scratch buffers shaped like a class: checks and times routines on them. */
    interface Bench extends AutoCloseable {
        /** Whether {@code routine} takes the scratch call. */
        boolean takes(CpuGemmRoutine routine);

        /** Whether {@code routine}'s C has the bits of {@code reference}'s on the scratch operands. */
        boolean agrees(CpuGemmRoutine routine, CpuGemmRoutine reference);

        /** Nanoseconds of {@code calls} back-to-back runs of {@code routine}. */
        long run(CpuGemmRoutine routine, int calls);

        /** Multiply-adds of one run. */
        double work();

        @Override
        void close();
    }

    /**
     * What timing the routines on one class found: the winner, each candidate's median time (absent:
     * it cannot take the class), those that gave other bits, and the rounds run.
     */
    record Decision(CpuGemmRoutine routine, Map<String, Long> nanos, List<String> wrong, double work, int rounds, String source) {
        String why() {
            StringBuilder why = new StringBuilder();
            nanos.forEach((name, ns) -> why.append(why.isEmpty() ? "" : ", ").append(name)
                    .append(String.format(Locale.ROOT, " %.1f us", ns / 1e3)));
            wrong.forEach(name -> why.append(why.isEmpty() ? "" : ", ").append(name).append(" gave other bits"));
            if (rounds > 0) {
                why.append("; ").append(rounds).append(" rounds");
            }
            return why.isEmpty() ? source : why + (source.isEmpty() ? "" : "; " + source);
        }
    }

    /** The routine for {@code call}; {@code benchFor} makes scratch buffers of its class (null: they do not fit). */
    CpuGemmRoutine routineFor(GemmCall call, Function<GemmCall, Bench> benchFor) {
        if (routines.size() == 1) {
            return vector; // no native library: nothing to decide, no lock on the hot path
        }
        CpuGemmRoutine r = forced != null ? forced : chosen(call, benchFor);
        return r == vector || r.refusal(call) == null ? r : vector;
    }

    private CpuGemmRoutine chosen(GemmCall call, Function<GemmCall, Bench> benchFor) {
        long cls = call.shapeClass();
        Last l = last;
        if (l != null && l.shapeClass() == cls) {
            return l.routine();
        }
        CpuGemmRoutine r = chosen.get(cls);
        if (r == null) {
            r = decided(call, benchFor);
        }
        last = new Last(cls, r);
        return r;
    }

    /** One decision at a time: two timings at once would each see the other's load. */
    private synchronized CpuGemmRoutine decided(GemmCall call, Function<GemmCall, Bench> benchFor) {
        return chosen.computeIfAbsent(call.shapeClass(), key -> {
            CpuGemmRoutine storedRoutine = stored.routine(key).flatMap(this::named).orElse(null);
            if (storedRoutine != null) {
                LOG.log(System.Logger.Level.DEBUG, "cpu:0 GEMM routine for {0}: {1} (stored by kernelbridge tune in {2})", label(call),
                        storedRoutine.name(), stored.file());
                return storedRoutine;
            }
            Decision d = measure(call, benchFor, ROUNDS, 0);
            LOG.log(System.Logger.Level.DEBUG, "cpu:0 GEMM routine for {0}: {1} ({2})", label(call), d.routine().name(), d.why());
            return d.routine();
        });
    }

    private java.util.Optional<CpuGemmRoutine> named(String name) {
        return routines.stream().filter(r -> r.name().equals(name)).findFirst();
    }

    /** The routine the next call of this class gets as things stand (a stored choice, or one made in this run), if any. */
    java.util.Optional<CpuGemmRoutine> current(long shapeClass) {
        CpuGemmRoutine r = chosen.get(shapeClass);
        return r != null ? java.util.Optional.of(r) : stored.routine(shapeClass).flatMap(this::named);
    }

    /**
     * Checks and times every routine that takes {@code call}'s class on scratch buffers, in
     * {@code rounds} rounds while the JIT compiler is quiet, after {@code warmNanos} of untimed
     * rounds; the Vector API kernels win where no other routine both agrees with them and runs faster.
     */
    Decision measure(GemmCall call, Function<GemmCall, Bench> benchFor, int rounds, long warmNanos) {
        try (Bench bench = benchFor.apply(call)) {
            if (bench == null) {
                return new Decision(vector, Map.of(), List.of(), 0, 0, "no memory for scratch buffers");
            }
            List<CpuGemmRoutine> candidates = new ArrayList<>();
            List<String> wrong = new ArrayList<>();
            for (CpuGemmRoutine r : routines) {
                if (r == vector || bench.takes(r) && bench.agrees(r, vector)) {
                    candidates.add(r);
                } else if (bench.takes(r)) {
                    wrong.add(r.name());
                    LOG.log(System.Logger.Level.WARNING, "cpu:0: the {0} routine gave other bits than the Vector API kernels for {1};"
                            + " it is not used for that class", r.name(), label(call));
                }
            }
            Timing t = timeRounds(bench, candidates, rounds, warmNanos);
            long[] typical = t.typical();
            Map<String, Long> nanos = new LinkedHashMap<>();
            CpuGemmRoutine winner = vector;
            for (int i = 0; i < candidates.size(); i++) {
                nanos.put(candidates.get(i).name(), typical[i]);
                if (typical[i] < typical[candidates.indexOf(winner)]) {
                    winner = candidates.get(i);
                }
            }
            return new Decision(winner, nanos, wrong, bench.work(), t.rounds(), "");
        }
    }

    /** Each candidate's median time, and how many rounds it took to get {@code rounds} quiet ones. */
    private record Timing(long[] typical, int rounds) { }

    /** A candidate's calls in a round last about this long: long enough for its threads to settle, short enough for tiny shapes. */
    private static final long BURST_NANOS = 100_000;
    private static final int MAX_BURST = 256;

    /**
     * The median over {@code rounds} rounds, during which the JIT compiler finished nothing, of each
     * candidate's mean time per call. The median, not the best: a library whose threads wait for each
     * other at barriers is fast now and then on a machine with a busy core and slow the rest of the
     * time (oneDNN, whose OpenMP team cannot shrink without changing its sums, ran 19× below its best
     * beside one busy core), and what the calls of this class will see is the typical round. In a round each candidate runs once untimed (another library's
     * threads may still be spinning down), then a burst of back-to-back calls, as a framework calls
     * one shape: the steady state, not a cold call. {@code warmNanos}: untimed rounds first, so that
     * our own kernels are compiled before they are compared with native code.
     */
    private static Timing timeRounds(Bench bench, List<CpuGemmRoutine> candidates, int rounds, long warmNanos) {
        int count = candidates.size();
        int[] burst = new int[count];
        java.util.Arrays.fill(burst, 1);
        long warmUntil = System.nanoTime() + warmNanos;
        do {
            for (int i = 0; i < count; i++) {
                burst[i] = burstFor(bench.run(candidates.get(i), 1));
            }
        } while (System.nanoTime() < warmUntil);
        long[][] counted = new long[count][rounds];
        long[] round = new long[count];
        long giveUp = System.nanoTime() + QUIET_WAIT_NANOS;
        long compiled = compilerMillis();
        int done = 0, run = 0;
        while (done < rounds) {
            run++;
            for (int i = 0; i < count; i++) {
                bench.run(candidates.get(i), 1);
                round[i] = bench.run(candidates.get(i), burst[i]) / burst[i];
                burst[i] = burstFor(round[i]);
            }
            long now = compilerMillis();
            boolean quiet = now == compiled;
            compiled = now;
            if (!quiet && System.nanoTime() < giveUp) {
                done = 0; // the compiler shared the cores with the rounds so far
                continue;
            }
            for (int i = 0; i < count; i++) {
                counted[i][done] = round[i];
            }
            done++;
        }
        long[] typical = new long[count];
        for (int i = 0; i < count; i++) {
            java.util.Arrays.sort(counted[i]);
            typical[i] = counted[i][rounds / 2];
        }
        return new Timing(typical, run);
    }

    private static int burstFor(long nanosPerCall) {
        return (int) Math.clamp(BURST_NANOS / Math.max(1, nanosPerCall), 1, MAX_BURST);
    }

    private static final CompilationMXBean COMPILER = ManagementFactory.getCompilationMXBean();

    /** The JIT compiler's total time so far (constant where the JVM does not report it). */
    private static long compilerMillis() {
        return COMPILER != null && COMPILER.isCompilationTimeMonitoringSupported() ? COMPILER.getTotalCompilationTime() : 0;
    }

    static String label(GemmCall call) {
        return String.format(Locale.ROOT, "%s->%s%s m~%d n~%d k~%d", call.inputType().label(), call.dtype().label(),
                call.transA().ordinal() + call.transB().ordinal() > 0 ? " " + call.transA().name().charAt(0) + call.transB().name().charAt(0) : "",
                call.m(), call.n(), call.k());
    }
}
