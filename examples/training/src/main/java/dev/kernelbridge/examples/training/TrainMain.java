package dev.kernelbridge.examples.training;

import dev.kernelbridge.KernelBridge;
import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * {@code kernelbridge train}: trains the example MLP data-parallel on the devices named, or as one
 * rank of an MPI job. Exit codes: 0 done (or stopped by --stop-after), 1 failed, 2 bad arguments.
 * With --json, progress is one JSON object per line and the last line is the summary.
 */
public final class TrainMain {
    static final String USAGE = """
            usage: kernelbridge train [--steps N] [--seed S] [--ranks R --device ID | --devices ID,ID,...] [--backend local|mpi]
                                      [--dtype f64] [--batch B] [--inputs I] [--hidden H] [--layers L] [--classes C] [--lr X]
                                      [--checkpoint DIR] [--checkpoint-every N] [--checkpoint-on-warning on|off] [--stop-after N]
                                      [--resume] [--rebalance-every N] [--report DIR] [--json]
              faults: kernelbridge.faults / KERNELBRIDGE_FAULTS, e.g. opencl:0=fail-every:7
              mpi: mpirun -np N ./kernelbridge train --backend mpi [--device ID]""";
    private static final Set<String> OPTIONS = Set.of("steps", "seed", "ranks", "device", "devices", "backend", "dtype", "batch", "inputs",
            "hidden", "layers", "classes", "lr", "checkpoint", "checkpoint-every", "stop-after", "report",
            "checkpoint-on-warning", "rebalance-every");
    private static final Set<String> FLAGS = Set.of("resume", "json");

    private TrainMain() { }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        Map<String, String> a;
        try {
            a = parse(argv);
        } catch (IllegalArgumentException e) {
            err.println("kernelbridge train: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        boolean json = a.containsKey("json");
        try (KernelBridge bridge = KernelBridge.open()) {
            TrainConfig config;
            try {
                config = config(a, bridge);
            } catch (IllegalArgumentException e) {
                err.println("kernelbridge train: " + e.getMessage());
                return 2;
            }
            Output output = new Output(out, err, json, config.steps());
            Trainer.Result r = new Trainer(bridge, config, output).run();
            if (!r.reporter()) {
                return 0;
            }
            output.finish();
            Map<String, Object> summary = summary(config, r);
            if (a.containsKey("report")) {
                Path dir = Path.of(a.get("report"));
                summary.put("report", TrainingReport.write(dir, config, r).toString());
            }
            if (json) {
                out.println(Json.write(summary));
            } else {
                out.printf(Locale.ROOT, "trained %d step(s) on %d rank(s)%s: loss %s -> %s, accuracy %.1f%%, %.0f samples/s, all-reduce %.1f%% of a step%n",
                        r.losses().length, r.ranks(), r.startStep() > 0 ? " (resumed at step " + r.startStep() + ")" : "",
                        r.firstLoss(), r.finalLoss(), 100 * r.finalAccuracy(), r.samplesPerSecond(), 100 * r.allReduceShare());
                out.printf(Locale.ROOT, "faults: %d device failure(s), %d missed deadline(s), %d canary catch(es) -> %d failover(s),"
                        + " %d quarantine(s), %.3f s lost in failed attempts%n", r.deviceFailures(), r.timeouts(), r.canaryCatches(),
                        r.failovers(), r.quarantines(), r.secondsLostToFaults());
                if (r.stopped()) {
                    out.println("stopped after step " + r.losses().length + " (--stop-after): resume with --resume");
                }
                if (summary.containsKey("report")) {
                    out.println("report: " + summary.get("report"));
                }
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("kernelbridge train: " + e.getMessage());
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("kernelbridge train: interrupted");
            return 1;
        } catch (RuntimeException e) {
            err.println("kernelbridge train: failed: " + e);
            return 1;
        }
    }

    static Map<String, Object> summary(TrainConfig config, Trainer.Result r) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("steps", r.losses().length);
        j.put("stepsRun", r.stepsRun());
        j.put("resumedFrom", r.startStep());
        j.put("stopped", r.stopped());
        j.put("ranks", r.ranks());
        j.put("devices", r.rankFigures().stream().map(Trainer.RankFigures::device).toList());
        j.put("seed", config.seed());
        j.put("firstLoss", r.firstLoss());
        j.put("finalLoss", r.finalLoss());
        j.put("finalAccuracy", r.finalAccuracy());
        j.put("failovers", r.failovers());
        j.put("canaryCatches", r.canaryCatches());
        j.put("quarantines", r.quarantines());
        j.put("deviceFailures", r.deviceFailures());
        j.put("timeouts", r.timeouts());
        j.put("secondsLostToFaults", r.secondsLostToFaults());
        j.put("samplesPerSecond", r.samplesPerSecond());
        j.put("allReduceShare", r.allReduceShare());
        j.put("finalCut", java.util.Arrays.stream(r.balance().finalCut()).boxed().toList());
        j.put("recuts", r.balance().recuts());
        j.put("warningCheckpoints", r.balance().warningCheckpoints());
        List<Double> losses = new ArrayList<>();
        for (double l : r.losses()) {
            losses.add(l);
        }
        j.put("losses", losses);
        return j;
    }

    private static TrainConfig config(Map<String, String> a, KernelBridge bridge) {
        String backend = a.getOrDefault("backend", "local");
        if (!backend.equals("local") && !backend.equals("mpi")) {
            throw new IllegalArgumentException("--backend must be local (in-process ranks) or mpi (one rank per process under mpirun), got '" + backend + "'");
        }
        boolean mpi = backend.equals("mpi");
        String dtype = a.getOrDefault("dtype", "f64");
        if (!dtype.equals("f64")) {
            throw new IllegalArgumentException("--dtype must be f64, got '" + dtype + "': the trainer keeps every GEMM exact so that the loss curve "
                    + "is the same bits on any device; F32 has too few bits for that, and BF16 GEMM is not in this release");
        }
        if (a.containsKey("devices") && (a.containsKey("ranks") || a.containsKey("device"))) {
            throw new IllegalArgumentException("--devices names every rank; do not combine it with --ranks or --device");
        }
        if (mpi && (a.containsKey("ranks") || a.containsKey("devices"))) {
            throw new IllegalArgumentException("with --backend mpi the ranks are the processes mpirun starts (-np); name this process's device with --device");
        }
        List<String> devices = new ArrayList<>();
        if (a.containsKey("devices")) {
            for (String id : a.get("devices").split(",")) {
                devices.add(bridge.device(id.trim()).id());
            }
        } else if (!mpi) {
            String id = a.containsKey("device") ? bridge.device(a.get("device")).id() : bridge.defaultDevice().id();
            devices.addAll(Collections.nCopies(integer(a, "ranks", 2), id));
        }
        Path checkpoint = a.containsKey("checkpoint") ? Path.of(a.get("checkpoint")) : null;
        return new TrainConfig(integer(a, "steps", 300), longValue(a, "seed", 1), devices, mpi, mpi ? a.get("device") : null,
                integer(a, "batch", 256), integer(a, "inputs", 64), integer(a, "hidden", 256), integer(a, "layers", 2),
                integer(a, "classes", 16), number(a, "lr", 0.002), checkpoint, integer(a, "checkpoint-every", 50),
                integer(a, "stop-after", 0), a.containsKey("resume"), onOff(a, "checkpoint-on-warning", checkpoint != null),
                integer(a, "rebalance-every", TrainConfig.DEFAULT_REBALANCE_EVERY));
    }

    private static boolean onOff(Map<String, String> a, String name, boolean fallback) {
        String s = a.get(name);
        if (s == null) {
            return fallback;
        }
        return switch (s.trim()) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("--" + name + " must be on or off, got '" + s + "'");
        };
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (!arg.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument '" + arg + "'");
            }
            String name = arg.substring(2);
            if (FLAGS.contains(name)) {
                a.put(name, "true");
            } else if (OPTIONS.contains(name)) {
                if (i + 1 >= argv.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                a.put(name, argv[++i]);
            } else {
                throw new IllegalArgumentException("unknown option '" + arg + "'");
            }
        }
        return a;
    }

    private static int integer(Map<String, String> a, String name, int fallback) {
        long v = longValue(a, name, fallback);
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--" + name + " must be between 0 and " + Integer.MAX_VALUE + ", got " + v);
        }
        return (int) v;
    }

    private static long longValue(Map<String, String> a, String name, long fallback) {
        String s = a.get(name);
        try {
            return s == null ? fallback : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be an integer, got '" + s + "'");
        }
    }

    private static double number(Map<String, String> a, String name, double fallback) {
        String s = a.get(name);
        try {
            return s == null ? fallback : Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a number, got '" + s + "'");
        }
    }

    /** Progress: a redrawn bar on a terminal, JSON lines with --json, a plain line every tenth of the run otherwise. */
    private static final class Output implements Trainer.Listener {
        private final PrintStream out, err;
        private final boolean json, terminal;
        private final long every;
        private long lastDraw;
        private boolean drawn;
        private String lastWarning;

        Output(PrintStream out, PrintStream err, boolean json, int steps) {
            this.out = out;
            this.err = err;
            this.json = json;
            Console console = System.console();
            this.terminal = !json && console != null && console.isTerminal();
            this.every = Math.max(1, steps / (json ? 20 : 10));
        }

        @Override
        public void step(long step, long total, double loss, double accuracy, double samplesPerSecond, String health) {
            if (terminal) {
                long now = System.nanoTime();
                if (now - lastDraw < 100_000_000L && step < total) {
                    return;
                }
                lastDraw = now;
                int width = 24, done = (int) (width * step / total);
                err.printf(Locale.ROOT, "\rtrain [%s%s] step %d/%d  loss %.4f  acc %.1f%%  %.0f samples/s  %s\u001b[K",
                        "#".repeat(done), ".".repeat(width - done), step, total, loss, 100 * accuracy, samplesPerSecond, health);
                err.flush();
                drawn = true;
            } else if (step % every == 0 || step == total) {
                if (json) {
                    Map<String, Object> j = new LinkedHashMap<>();
                    j.put("event", "step");
                    j.put("step", step);
                    j.put("loss", loss);
                    j.put("accuracy", accuracy);
                    j.put("samplesPerSecond", samplesPerSecond);
                    j.put("health", health);
                    out.println(Json.write(j));
                } else {
                    out.printf(Locale.ROOT, "step %d/%d  loss %.6f  accuracy %.1f%%  %.0f samples/s  %s%n", step, total, loss,
                            100 * accuracy, samplesPerSecond, health);
                }
            }
        }

        @Override
        public void checkpoint(long step, Path file, String why) {
            boolean warning = why.startsWith("checkpoint on warning");
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("event", "checkpoint");
                j.put("step", step);
                j.put("file", file.toString());
                j.put("why", why);
                out.println(Json.write(j));
            } else if (warning && !why.equals(lastWarning)) {
                // Once per warning, not every guarded step: a person reads this line to know the run is protected.
                if (drawn) {
                    err.println();
                }
                err.println("step " + step + ": " + why + " -> " + file);
            }
            lastWarning = warning ? why : null;
        }

        void finish() {
            if (drawn) {
                err.println();
            }
        }
    }

    /** Just enough JSON for flat summaries: numbers print as Java prints them, so equal bits give equal text. */
    static final class Json {
        private Json() { }

        static String write(Object v) {
            if (v == null) {
                return "null";
            }
            if (v instanceof String s) {
                StringBuilder b = new StringBuilder("\"");
                for (char c : s.toCharArray()) {
                    switch (c) {
                        case '"' -> b.append("\\\"");
                        case '\\' -> b.append("\\\\");
                        case '\n' -> b.append("\\n");
                        default -> {
                            if (c < 0x20) {
                                b.append(String.format("\\u%04x", (int) c));
                            } else {
                                b.append(c);
                            }
                        }
                    }
                }
                return b.append('"').toString();
            }
            if (v instanceof Double d) {
                return d.isNaN() || d.isInfinite() ? "null" : d.toString();
            }
            if (v instanceof Number || v instanceof Boolean) {
                return v.toString();
            }
            if (v instanceof Map<?, ?> m) {
                StringJoiner j = new StringJoiner(",", "{", "}");
                m.forEach((k, x) -> j.add(write(String.valueOf(k)) + ":" + write(x)));
                return j.toString();
            }
            if (v instanceof List<?> l) {
                StringJoiner j = new StringJoiner(",", "[", "]");
                l.forEach(x -> j.add(write(x)));
                return j.toString();
            }
            return write(v.toString());
        }
    }
}
