package dev.kernelbridge.examples.training;

import dev.kernelbridge.Config;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.KernelBridge;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The trainer's side of issue 30 ({@code ci/bench-training-foresight}): how much of the step time a
 * slow rank costs the rebalanced cut wins back, and how many finished steps a crash after a drain
 * warning loses with checkpoint-on-warning. Writes {@code DIR/README.md}.
 *
 * <pre>args: DIR [SEEDS]</pre>
 */
public final class TrainingForesightBench {
    private static final int REBALANCE_STEPS = 160, SETTLED_FROM = 80, REPEATS = 3;
    private static final int CE_RAMP = 200, EVERY = 50, WARN_STEPS = 80;

    private TrainingForesightBench() { }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "reports/training-foresight");
        int seeds = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        Files.createDirectories(dir);
        List<String> openCl;
        try (KernelBridge kb = KernelBridge.open()) {
            openCl = kb.devices().stream().map(d -> d.id()).filter(id -> id.startsWith("opencl:")).toList();
        }
        StringBuilder md = new StringBuilder("# The trainer under foresight (issue 30)\n\n");
        md.append("`ci/bench-training-foresight` on ").append(TrainingBench.cpuModel()).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, JDK ").append(Runtime.version()).append(", ").append(LocalDate.now()).append(". OpenCL devices: ")
                .append(openCl.isEmpty() ? "none" : String.join(", ", openCl) + " (PoCL, POCL_DEVICES=" + System.getenv("POCL_DEVICES") + ")")
                .append(".\n\n");

        md.append("## Rebalance: the cut follows measured speed\n\n");
        md.append(String.format(Locale.ROOT, "MLP [64, 256, 256, 16], global batch 256, %d steps; step time = median of rank 0's wall time per"
                + " step over steps %d–%d (after the cut settles), mean of %d runs after one warm-up run per device pair. Rank 1 is made F× slower by waiting (F − 1)× its own"
                + " compute after it (`Trainer.slowRank`), so its time grows with its shard as a slower device's would; recovery ="
                + " (Ts − Tr) / (Ts − T0), T0 clean with equal shards, Ts slowed with equal shards, Tr slowed with the measured cut"
                + " (re-cut every %d steps from the median of the last %d steps per rank). Like for like = 1 − (Tr − T0r) / (Ts − T0),"
                + " T0r the clean run with the measured cut: on 2 shared cores the two ranks are not equally fast even when clean (they"
                + " compete for the cores), so the measured cut also shortens the clean step and the plain recovery can pass 100%%.%n%n", REBALANCE_STEPS, SETTLED_FROM + 1,
                REBALANCE_STEPS, REPEATS, TrainConfig.DEFAULT_REBALANCE_EVERY, ShardCut.WINDOW));
        md.append("| ranks' devices | slowdown of rank 1 | T0 ms | T0, measured cut, ms | Ts ms | Tr ms | recovery | like for like | cut (rank 0 / rank 1) | fail-slow drains in the Tr runs | loss bits as equal shards |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n");
        List<List<String>> pairs = new ArrayList<>();
        pairs.add(List.of("cpu:0", "cpu:0"));
        if (openCl.size() >= 2) {
            pairs.add(List.of(openCl.get(0), openCl.get(1)));
        }
        for (List<String> pair : pairs) {
            run(pair, 0, 1); // warm-up
            Timed t0 = timed(pair, 0, 1);
            Timed t0r = timed(pair, TrainConfig.DEFAULT_REBALANCE_EVERY, 1);
            for (double f : new double[] {1.5, 2}) {
                Timed ts = timed(pair, 0, f);
                Timed tr = timed(pair, TrainConfig.DEFAULT_REBALANCE_EVERY, f);
                double recovery = (ts.step - tr.step) / (ts.step - t0.step);
                double likeForLike = 1 - (tr.step - t0r.step) / (ts.step - t0.step);
                md.append(String.format(Locale.ROOT, "| %s | %.1f× | %.2f | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %d / %d | %d | %s |%n", String.join(", ", pair), f,
                        1e3 * t0.step, 1e3 * t0r.step, 1e3 * ts.step, 1e3 * tr.step, 100 * recovery, 100 * likeForLike, tr.cut[0], tr.cut[1], tr.drains,
                        Arrays.equals(tr.losses, t0.losses) && Arrays.equals(ts.losses, t0.losses) ? "identical" : "DIFFERENT"));
            }
        }
        md.append("\n");

        if (!openCl.isEmpty()) {
            md.append(warnings(openCl.getFirst(), seeds));
        } else {
            md.append("## Checkpoint on warning\n\nNot measured: it needs an OpenCL device beside cpu:0 for the pool to drain one.\n");
        }
        Files.writeString(dir.resolve("README.md"), md, StandardCharsets.UTF_8);
        System.out.println(md);
        System.exit(0);
    }

    private record Timed(double step, int[] cut, double[] losses, long drains) { }

    private static Timed timed(List<String> pair, int rebalanceEvery, double slowdown) throws InterruptedException {
        long t = System.nanoTime();
        double sum = 0;
        long drains = 0;
        Timed last = null;
        for (int i = 0; i < REPEATS; i++) {
            last = run(pair, rebalanceEvery, slowdown);
            sum += last.step;
            drains += last.drains;
        }
        System.err.printf(Locale.ROOT, "%s rebalance-every %d slowdown %.1f: %.2f ms a step, cut %s (%.0f s)%n", pair, rebalanceEvery, slowdown,
                1e3 * sum / REPEATS, Arrays.toString(last.cut), (System.nanoTime() - t) * 1e-9);
        return new Timed(sum / REPEATS, last.cut, last.losses, drains);
    }

    private static Timed run(List<String> pair, int rebalanceEvery, double slowdown) throws InterruptedException {
        TrainConfig c = new TrainConfig(REBALANCE_STEPS, 1, pair, false, null, 256, 64, 256, 2, 16, 0.002, null, 50, 0, false, false,
                rebalanceEvery);
        try (KernelBridge kb = KernelBridge.open(Config.defaults().with(Config.BACKEND, pair.stream().anyMatch(d -> d.startsWith("opencl"))
                ? "cpu,opencl" : "cpu"))) {
            Trainer t = new Trainer(kb, c, Trainer.Listener.SILENT);
            if (slowdown > 1) {
                t.slowRank(1, slowdown);
            }
            Trainer.Result r = t.run();
            double[] settled = Arrays.copyOfRange(r.balance().stepSeconds(), SETTLED_FROM, REBALANCE_STEPS);
            Arrays.sort(settled);
            return new Timed(settled[settled.length / 2], r.balance().finalCut(), r.losses(), r.quarantines());
        }
    }

    /**
     * Seeds of a corrected-error ramp on {@code device} (rank 1; cpu:0 is rank 0): each run "crashes" during
     * the step in which the ramp's hard fault would land had the device kept its work, then resumes
     * from the newest checkpoint in a fresh bridge without faults.
     */
    private static String warnings(String device, int seeds) throws Exception {
        List<String> pair = List.of("cpu:0", device);
        TrainConfig base = new TrainConfig(WARN_STEPS, 11, pair, false, null, 64, 32, 64, 2, 8, 0.003, null, EVERY, 0, false);
        Config pool = Config.defaults().with(Config.BACKEND, "cpu,opencl");
        double[] clean;
        double launchesPerStep;
        long falseWarnings;
        int cleanRuns = 20;
        try (KernelBridge kb = KernelBridge.open(pool)) {
            AtomicLong events = new AtomicLong();
            try (AutoCloseable s = kb.subscribe(e -> {
                if (e instanceof DispatchEvent.Foresight f && !f.action().equals("rebalance")) {
                    events.incrementAndGet();
                }
            })) {
                clean = new Trainer(kb, base, Trainer.Listener.SILENT).run().losses();
                launchesPerStep = (double) kb.metrics().devices().stream().filter(d -> d.device().equals(device)).findFirst().orElseThrow()
                        .launches() / WARN_STEPS;
            }
            falseWarnings = events.get();
        }
        for (int i = 1; i < cleanRuns; i++) { // clean runs in fresh bridges: a warning here is a false one
            try (KernelBridge kb = KernelBridge.open(pool)) {
                AtomicLong events = new AtomicLong();
                try (AutoCloseable s = kb.subscribe(e -> {
                    if (e instanceof DispatchEvent.Foresight f && !f.action().equals("rebalance")) {
                        events.incrementAndGet();
                    }
                })) {
                    new Trainer(kb, base, Trainer.Listener.SILENT).run();
                }
                falseWarnings += events.get();
            }
        }
        int zeroLost = 0, warned = 0, identical = 0, runs = 0;
        long lostWith = 0, lostWithout = 0, stepsWith = 0, stepsWithout = 0, productive = 0, extraCheckpoints = 0;
        List<Long> leads = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int seed = 1; seed <= seeds; seed++) {
            long from = 150 + (seed * 53L) % 150;
            long hardFault = from + CE_RAMP; // the launch at which the device is lost
            int crashStep = (int) Math.ceil(hardFault / launchesPerStep); // the step that launch falls in
            if (crashStep > WARN_STEPS) {
                continue;
            }
            Path ck = Files.createTempDirectory("kb-foresight-ck");
            Trainer.Result r;
            try (KernelBridge kb = KernelBridge.open(pool.with(Config.FAULTS, device + "=ce-trend:" + from + ",ce-ramp:" + CE_RAMP + ",seed:" + seed))) {
                r = new Trainer(kb, base.withCheckpoints(ck, crashStep - 1, false), Trainer.Listener.SILENT).run();
            }
            runs++;
            long warnedAt = r.balance().firstWarningStep();
            if (warnedAt > 0) {
                warned++;
                leads.add(crashStep - warnedAt);
            }
            extraCheckpoints += r.balance().warningCheckpoints();
            long last = Checkpoint.list(ck).isEmpty() ? 0 : Long.parseLong(Checkpoint.list(ck).getFirst().getFileName().toString().replaceAll("\\D", ""));
            long lost = (crashStep - 1) - last;
            long lostNoWarning = (crashStep - 1) % EVERY;
            zeroLost += lost == 0 ? 1 : 0;
            lostWith += lost;
            lostWithout += lostNoWarning;
            // Steps run in all: the finished ones before the crash, the one the crash interrupted, the ones after the resume.
            stepsWith += crashStep + (WARN_STEPS - last);
            stepsWithout += crashStep + (WARN_STEPS - ((crashStep - 1) - lostNoWarning));
            productive += WARN_STEPS;
            if (seed % 10 == 0) {
                System.err.printf(Locale.ROOT, "seed %d: %.0f s%n", seed, (System.nanoTime() - t0) * 1e-9);
            }
            try (KernelBridge kb = KernelBridge.open(pool)) {
                Trainer.Result resumed = new Trainer(kb, base.withCheckpoints(ck, 0, true), Trainer.Listener.SILENT).run();
                identical += resumed.startStep() == last && Arrays.equals(resumed.losses(), clean) ? 1 : 0;
            }
        }
        double seconds = (System.nanoTime() - t0) * 1e-9;
        leads.sort(Long::compare);
        StringBuilder md = new StringBuilder("## Checkpoint on warning\n\n");
        md.append(String.format(Locale.ROOT, "Ranks on cpu:0 and %s; MLP [32, 64, 64, 8], global batch 64, %d steps, checkpoints every %d"
                + " steps. Each seed S runs the fault plan `%s=ce-trend:N,ce-ramp:%d,seed:S` with N = 150 + (53·S mod 150): corrected"
                + " errors climb from launch N and the device is lost at launch N + %d. %s takes %.0f launches a step, so that launch falls"
                + " in step H = ⌈(N + %d) / %.0f⌉ (%d–%d). The pool drains the device before then and reroutes its work, so the hard fault"
                + " never lands in the run; the crash is simulated where it would have: the run ends after step H − 1 (`--stop-after`),"
                + " as if the process died during step H, and a fresh bridge without faults resumes from the newest checkpoint to step %d."
                + " Steps lost = H − 1 − the newest checkpoint's step.%n%n", device, WARN_STEPS, EVERY, device, CE_RAMP, CE_RAMP, device,
                launchesPerStep, CE_RAMP, launchesPerStep, (int) Math.ceil((150 + CE_RAMP) / launchesPerStep),
                (int) Math.ceil((299 + CE_RAMP) / launchesPerStep), WARN_STEPS));
        md.append("| figure | value |\n|---|---:|\n");
        md.append(String.format(Locale.ROOT, "| runs (seeds 1–%d whose H falls within the run) | %d |%n", seeds, runs));
        md.append(String.format(Locale.ROOT, "| recall: runs warned before the crash | %d (%.1f%%) |%n", warned, 100.0 * warned / runs));
        md.append(String.format(Locale.ROOT, "| precision: warnings in %d clean runs (false drains or warnings) | %d |%n", cleanRuns, falseWarnings));
        md.append(String.format(Locale.ROOT, "| lead time: steps from the warning's checkpoint to the crash step, min / median / max | %s |%n",
                leads.isEmpty() ? "—" : leads.getFirst() + " / " + leads.get(leads.size() / 2) + " / " + leads.getLast()));
        md.append(String.format(Locale.ROOT, "| **crash after a warning loses 0 finished steps** | **%d of %d (%.1f%%)** |%n", zeroLost, runs,
                100.0 * zeroLost / runs));
        md.append(String.format(Locale.ROOT, "| steps lost per crash: with checkpoint-on-warning / schedule only (every %d) | %.2f / %.2f |%n",
                EVERY, (double) lostWith / runs, (double) lostWithout / runs));
        md.append(String.format(Locale.ROOT, "| effective training time (productive ÷ all steps run, the crashed one included): with / schedule only | %.3f / %.3f |%n",
                (double) productive / stepsWith, (double) productive / stepsWithout));
        md.append(String.format(Locale.ROOT, "| checkpoints written because of a warning (per run: the drain's step to H − 1, every step while drained) | %.1f |%n",
                (double) extraCheckpoints / runs));
        md.append(String.format(Locale.ROOT, "| resumed curves bitwise equal to the clean run | %d of %d |%n", identical, runs));
        md.append(String.format(Locale.ROOT, "%nWall time of the %d faulty runs and resumes: %.0f s.%n", runs, seconds));
        return md.toString();
    }
}
