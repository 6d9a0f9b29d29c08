package dev.kernelbridge.cli;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.examples.moe.MoeLayer;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * The {@code kernelbridge} command: devices, gemm, allreduce, moe, tune, demo, doctor, bench, and the
 * commands other modules add ({@link Subcommand}: the training example's train). Human-readable by
 * default, {@code --json} for machines. Exit codes: 0 success, 1 failure (including a failed
 * verification), 2 bad arguments.
 */
public final class Main {
    /**
     * A built-in command: the options that take a value, the flags, and its usage lines (options, then
     * what it does). The dispatch, {@code kernelbridge help} and docs/cli.md are all made from
     * {@link #COMMANDS}, so they cannot drift apart.
     */
    record Command(String name, Set<String> options, Set<String> flags, String usage) {
        Args parse(String[] argv) {
            return new Args(argv, 1, options, flags);
        }
    }

    static final List<Command> COMMANDS = List.of(
            new Command("devices", Set.of("interval", "rounds"), Set.of("json", "watch"), """
                    [--json]                          list every device of every backend
                    [--watch [--interval 2s] [--rounds N]]  live health, probe and throughput per device"""),
            new Command("gemm", Set.of("dtype", "out", "m", "n", "k", "layout", "alpha", "beta", "device", "repeat"),
                    Set.of("transa", "transb", "verify", "json"), """
                    --m M --n N --k K [--dtype f32|f64|bf16|f16|i8 [--out f32|bf16|f16|i32]] [--transa] [--transb] [--layout row|col]
                    [--alpha A] [--beta B] [--device ID] [--repeat R] [--verify] [--json]"""),
            new Command("allreduce", Set.of("ranks", "count", "dtype", "op", "device", "devices", "repeat", "backend"), Set.of("verify", "json"), """
                    --count C [--ranks R --device ID | --devices ID,ID,...] [--dtype f32|f64|bf16|f16|i32]
                    [--op sum|prod|min|max|avg] [--repeat R] [--verify] [--json]
                    [--backend local|mpi]           mpi: one rank per process, run under mpirun -np N
                                                    timed as nccl-tests: every rank's thread loops the blocking call"""),
            new Command("moe", Set.of("experts", "top-k", "tokens", "hidden", "ffn", "dtype", "ranks", "device", "devices", "backend",
                    "iterations", "seed"), Set.of("verify", "json"), """
                    [--experts 8] [--top-k 2] [--tokens 4096] [--hidden 1024] [--ffn 3584] [--dtype f32|f64|bf16|f16]
                    [--ranks R --device ID | --devices ID,ID,...] [--backend local|mpi] [--iterations 3] [--seed S]
                    [--verify] [--json]               the MoE example layer (examples/moe): router top-k, all-to-all dispatch,
                                                      grouped GEMMs with SiLU, all-to-all combine; tokens and experts
                                                      split over the ranks (uneven splits too); --verify: F64 host reference"""),
            new Command("tune", Set.of("device", "budget"), Set.of("json"), """
                    [--device ID] [--budget 10m] [--json] search kernel parameters, store the best"""),
            new Command("demo", Set.of("device", "faults", "calls", "size", "policy", "steps", "seed"), Set.of("json", "chaos", "anticipate"), """
                    [--json]                          verified GEMM and all-reduce on every device
                    --chaos [--device ID] [--faults SPEC] [--calls N] [--size N] [--policy pinned|split|fastest]
                                                      faults injected into a device, routed around, every result verified
                    --anticipate [--steps 400] [--seed S] devices degrading: a corrected-error ramp drained before its hard
                                                      fault, a slowdown rebalanced or drained, every result verified"""),
            new Command("doctor", Set.of(), Set.of("json"), """
                    [--json]                          what is missing and how to fix it"""),
            new Command("bench", Set.of("report"), Set.of("quick", "full", "update-baseline"), """
                    [--quick|--full] [--report DIR] [--update-baseline]
                                                      benchmarks against peers, gated ratios (a source checkout's ci/nightly-bench)"""));

    /** The usage text: the built-in commands, then those other modules add ({@link Subcommand}). */
    public static String usage() {
        StringBuilder u = new StringBuilder("usage: kernelbridge <command> [options]\n");
        for (Command c : COMMANDS) {
            appendUsage(u, c.name(), c.usage());
        }
        for (Subcommand c : Subcommand.all()) {
            appendUsage(u, c.name(), c.usage());
        }
        return u.append("common: --verbose (log backend selection and dispatch at DEBUG)").toString();
    }

    private static void appendUsage(StringBuilder u, String name, String usage) {
        String[] lines = usage.split("\n");
        u.append(String.format("  %-9s %s%n", name, lines[0]));
        for (int i = 1; i < lines.length; i++) {
            u.append("            ").append(lines[i]).append('\n');
        }
    }

    private final PrintStream out;

    private Main(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs one command; returns the exit code. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        List<String> args = new ArrayList<>(List.of(argv));
        boolean verbose = args.remove("--verbose");
        configureLogging(verbose);
        if (args.isEmpty() || args.getFirst().equals("help") || args.getFirst().equals("--help")) {
            (args.isEmpty() ? err : out).println(usage());
            return args.isEmpty() ? 2 : 0;
        }
        String[] rest = args.toArray(String[]::new);
        Main main = new Main(out);
        try {
            Command command = COMMANDS.stream().filter(c -> c.name().equals(rest[0])).findFirst().orElse(null);
            if (command == null) {
                Subcommand added = Subcommand.all().stream().filter(c -> c.name().equals(rest[0])).findFirst()
                        .orElseThrow(() -> new Args.UsageException("unknown command '" + rest[0] + "'"));
                return added.run(java.util.Arrays.copyOfRange(rest, 1, rest.length), out, err);
            }
            Args a = command.parse(rest);
            return switch (command.name()) {
                case "devices" -> main.devices(a);
                case "gemm" -> main.gemm(a);
                case "allreduce" -> main.allReduce(a);
                case "moe" -> main.moe(a);
                case "tune" -> main.tune(a);
                case "demo" -> main.demo(a);
                case "doctor" -> main.doctor(a);
                case "bench" -> bench(rest, err);
                default -> throw new IllegalStateException("command " + command.name() + " has no handler");
            };
        } catch (Args.UsageException | IllegalArgumentException e) {
            err.println("kernelbridge: " + e.getMessage());
            if (e instanceof Args.UsageException) {
                err.println("run 'kernelbridge help' for usage");
            }
            return 2;
        } catch (RuntimeException e) {
            err.println("kernelbridge: " + rest[0] + " failed: " + e);
            if (verbose) {
                e.printStackTrace(err);
            }
            return 1;
        }
    }

    /**
     * {@code bench}: the JMH suite with its peers, which lives in the source checkout (jmh-bench and
     * ci/nightly-bench), not in this jar; ./kernelbridge says where the checkout is.
     */
    private static int bench(String[] argv, PrintStream err) {
        String home = System.getProperty("kernelbridge.home");
        java.nio.file.Path script = home == null ? null : java.nio.file.Path.of(home, "ci", "nightly-bench");
        if (script == null || !java.nio.file.Files.isExecutable(script)) {
            throw new Args.UsageException("bench runs the benchmarks of a source checkout (ci/nightly-bench): run it through"
                    + " that checkout's ./kernelbridge" + (home == null ? "" : "; " + script + " is not there"));
        }
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        cmd.addAll(List.of(argv).subList(1, argv.length));
        try {
            return new ProcessBuilder(cmd).inheritIO().start().waitFor();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    private int devices(Args a) {
        if (a.flag("watch")) {
            Duration interval = dev.kernelbridge.Config.parseDuration(a.string("interval", "2s"), "--interval");
            long rounds = a.positiveLong("rounds", 0, 1);
            try {
                return new DeviceWatch(out, a.flag("json")).run(interval, rounds);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 1;
            }
        }
        try (KernelBridge bridge = KernelBridge.open()) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Device d : bridge.devices()) {
                rows.add(describe(d));
            }
            List<Map<String, Object>> skipped = new ArrayList<>();
            for (dev.kernelbridge.BackendStatus s : unavailable(bridge)) {
                Map<String, Object> m = Json.object();
                m.put("backend", s.name());
                m.put("state", s.state().name().toLowerCase(java.util.Locale.ROOT));
                m.put("cause", s.detail());
                m.put("fix", s.fix().isEmpty() ? null : s.fix());
                skipped.add(m);
            }
            if (a.flag("json")) {
                Map<String, Object> def = Json.object();
                def.put("id", bridge.defaultDevice().id());
                def.put("why", bridge.defaultDeviceReason());
                out.println(Json.write(Map.of("devices", rows, "unavailable", skipped, "default", def)));
            } else {
                Table t = new Table("id", "backend", "kind", "vendor", "memory", "largest buffer", "dtypes", "name");
                for (Device d : bridge.devices()) {
                    t.row(d.id(), d.backend(), d.kind().name().toLowerCase(java.util.Locale.ROOT), d.vendor(), gib(d.memoryBytes()),
                            gib(d.maxAllocationBytes()),
                            String.join(",", d.dtypes().stream().map(DType::label).sorted().toList()), d.name());
                }
                t.print(out);
                out.println("default device: " + bridge.defaultDeviceReason());
                printUnavailable(bridge);
            }
            return 0;
        }
    }

    /** The GEMM input types the CLI takes, with the message users see for any other. */
    private static DType gemmInput(String text) {
        DType t = switch (text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "f64", "bf16", "f16", "i8" -> DType.parse(text, "--dtype");
            default -> null;
        };
        if (t == null) {
            throw new Args.UsageException("--dtype must be one of f32, f64, bf16, f16, i8, got '" + text + "'");
        }
        return t;
    }

    /** BF16 and F16 multiply into F32 (as cblas_sbgemm does), I8 into I32; --out chooses another legal C. */
    private static DType defaultOutput(DType input) {
        return input.computeType();
    }

    private int gemm(Args a) {
        DType dtype = gemmInput(a.string("dtype", "f32"));
        DType outType = a.string("out", null) == null ? defaultOutput(dtype) : DType.parse(a.string("out", null), "--out");
        long m = a.required("m", 0), n = a.required("n", 0), k = a.required("k", 0);
        Layout layout = switch (a.string("layout", "row")) {
            case "row" -> Layout.ROW_MAJOR;
            case "col", "column" -> Layout.COLUMN_MAJOR;
            default -> throw new Args.UsageException("--layout must be row or col, got '" + a.string("layout", "") + "'");
        };
        int repeat = (int) a.positiveLong("repeat", 1, 1);
        var shape = new GemmRun.Shape(dtype, outType, m, n, k,
                a.flag("transa") ? Transpose.TRANS : Transpose.NO_TRANS, a.flag("transb") ? Transpose.TRANS : Transpose.NO_TRANS,
                layout, a.number("alpha", 1), a.number("beta", 0));
        try (KernelBridge bridge = KernelBridge.open(); Progress progress = new Progress("gemm")) {
            Device device = a.string("device", null) == null ? bridge.defaultDevice() : bridge.device(a.string("device", null));
            GemmRun.Result r = GemmRun.run(bridge, device, shape, repeat, a.flag("verify"), progress);
            progress.close();
            if (a.flag("json")) {
                Map<String, Object> j = Json.object();
                j.put("device", r.device());
                j.put("dtype", r.dtype().label());
                j.put("out", r.out().label());
                j.put("m", r.m());
                j.put("n", r.n());
                j.put("k", r.k());
                j.put("seconds", r.seconds());
                j.put("gflops", r.gflops());
                j.put("verified", r.verified());
                j.put("maxRelError", Double.isNaN(r.maxRelError()) ? null : r.maxRelError());
                spread(j, r.spread(), r.runs());
                out.println(Json.write(j));
            } else {
                out.printf("gemm %s %dx%dx%d on %s: %.6f s (%s), %.1f %s%s%n", r.dtype() == r.out() ? r.dtype().label()
                                : r.dtype().label() + "->" + r.out().label(), m, n, k, r.device(),
                        r.seconds(), r.spread().describe(r.runs()), r.gflops(), r.dtype().isFloatingPoint() ? "GFLOP/s" : "GOP/s",
                        r.verified() == null ? "" : r.verified()
                                ? String.format(", verified (max rel. error %.2e)", r.maxRelError())
                                : String.format(", VERIFICATION FAILED (max rel. error %.2e)", r.maxRelError()));
            }
            return Boolean.FALSE.equals(r.verified()) ? 1 : 0;
        }
    }

    /** Checks --backend and how --ranks, --device and --devices combine with it; returns the backend. */
    private static String rankEngine(Args a, boolean ranksRequired) {
        String engine = a.string("backend", "local");
        if (!engine.equals("local") && !engine.equals("mpi")) {
            throw new Args.UsageException("--backend must be local (in-process ranks) or mpi (one rank per process under mpirun), got '" + engine + "'");
        }
        if (a.string("devices", null) != null && (a.string("ranks", null) != null || a.string("device", null) != null)) {
            throw new Args.UsageException("--devices names every rank; do not combine it with --ranks or --device");
        }
        if (engine.equals("mpi") && a.string("ranks", null) != null) {
            throw new Args.UsageException("with --backend mpi the ranks are the processes mpirun starts (-np); do not pass --ranks");
        }
        if (ranksRequired && a.string("devices", null) == null && engine.equals("local")) {
            a.required("ranks", 1);
        }
        a.positiveLong("ranks", 1, 1);
        return engine;
    }

    /**
     * This process's rank devices: --devices one per rank, else --ranks copies of --device (or the default
     * device); under mpi one rank per process unless --devices names several.
     */
    private static List<Device> rankDevices(Args a, KernelBridge bridge, String engine) {
        String list = a.string("devices", null);
        if (list != null) {
            List<Device> devices = new ArrayList<>();
            for (String id : list.split(",")) {
                devices.add(bridge.device(id.trim()));
            }
            return devices;
        }
        Device device = a.string("device", null) == null ? bridge.defaultDevice() : bridge.device(a.string("device", null));
        int ranks = (int) Math.min(Integer.MAX_VALUE, a.positiveLong("ranks", 1, 1));
        return engine.equals("mpi") ? List.of(device) : Collections.nCopies(ranks, device);
    }

    private int allReduce(Args a) {
        String engine = rankEngine(a, true);
        long count = a.required("count", 0);
        DType dtype = DType.parse(a.string("dtype", "f32"), "--dtype");
        if (dtype == DType.I8) {
            throw new Args.UsageException("--dtype must be one of f32, f64, bf16, f16, i32 for allreduce, got 'i8'");
        }
        ReduceOp op = ReduceOp.parse(a.string("op", "sum"), "--op");
        int repeat = (int) a.positiveLong("repeat", 5, 1);
        try (KernelBridge bridge = KernelBridge.open(); Progress progress = new Progress("allreduce")) {
            List<Device> rankDevices = rankDevices(a, bridge, engine);
            AllReduceRun.Result r;
            boolean reporter = true;
            if (engine.equals("mpi")) {
                List<Communicator> comms = bridge.worldCommunicators(rankDevices);
                reporter = comms.getFirst().rank() == 0;
                r = AllReduceRun.runOn(bridge, comms, count, dtype, op, repeat, a.flag("verify"), progress);
            } else {
                r = AllReduceRun.run(bridge, rankDevices, count, dtype, op, repeat, a.flag("verify"), progress);
            }
            progress.close();
            if (!reporter) { // one line per job, from rank 0; the others speak only of failures
                return Boolean.FALSE.equals(r.verified()) ? 1 : 0;
            }
            if (a.flag("json")) {
                out.println(Json.write(allReduceJson(r)));
            } else {
                out.printf("allreduce %s %s of %d elements over %d ranks on %s: %s per call (%s), algorithm %.2f GB/s, bus %.2f GB/s%s%n",
                        op.name().toLowerCase(java.util.Locale.ROOT), dtype.label(), count, r.ranks(), r.device(), perCall(r.seconds()),
                        r.spread().describe(r.runs()),
                        r.algBandwidthGBs(), r.busBandwidthGBs(),
                        r.verified() == null ? "" : r.verified() ? ", verified" : ", VERIFICATION FAILED");
            }
            return Boolean.FALSE.equals(r.verified()) ? 1 : 0;
        }
    }

    private int moe(Args a) {
        String engine = rankEngine(a, false);
        int experts = intOption(a, "experts", 8);
        int topK = intOption(a, "top-k", 2);
        if (topK > experts) {
            throw new Args.UsageException("--top-k must be <= --experts (" + experts + "), got " + topK);
        }
        long tokens = a.positiveLong("tokens", 4096, 1);
        int hidden = intOption(a, "hidden", 1024);
        if (hidden > 1 << 18) { // beyond it a router logit's partial sums leave F32's exact range (see MoeLayer.tokens)
            throw new Args.UsageException("--hidden must be <= 262144 (router logits exact in F32), got " + hidden);
        }
        int ffn = intOption(a, "ffn", 3584);
        DType dtype = DType.parse(a.string("dtype", "f32"), "--dtype");
        if (!dtype.isFloatingPoint()) {
            throw new Args.UsageException("--dtype must be one of f32, f64, bf16, f16 for moe, got '" + a.string("dtype", "") + "'");
        }
        // The example stages a rank's rows and an expert's weights in Java arrays.
        if ((double) tokens * topK * hidden >= Integer.MAX_VALUE || (double) tokens * experts >= Integer.MAX_VALUE) {
            throw new Args.UsageException("--tokens x --top-k x --hidden and --tokens x --experts must be below 2^31 (host arrays), got "
                    + tokens + " x " + topK + " x " + hidden + " and " + tokens + " x " + experts);
        }
        if ((double) hidden * ffn >= Integer.MAX_VALUE) {
            throw new Args.UsageException("--hidden x --ffn must be below 2^31 (one expert's weights in a host array), got " + hidden + " x " + ffn);
        }
        int iterations = intOption(a, "iterations", 3);
        long seed = a.positiveLong("seed", 1, Long.MIN_VALUE);
        var shape = new MoeLayer.Shape(experts, topK, tokens, hidden, ffn, dtype, seed);
        try (KernelBridge bridge = KernelBridge.open(); Progress progress = new Progress("moe")) {
            List<Device> rankDevices = rankDevices(a, bridge, engine);
            for (Device d : rankDevices) {
                if (!d.supports(dtype) || !d.supports(dtype.computeType())) {
                    throw new IllegalArgumentException("device " + d.id() + " does not declare " + dtype.label() + " (it declares "
                            + d.dtypes().stream().map(DType::label).sorted().toList() + ")");
                }
            }
            MoeRun.Result r;
            boolean reporter = true;
            if (engine.equals("mpi")) {
                List<Communicator> comms = bridge.worldCommunicators(rankDevices);
                reporter = comms.getFirst().rank() == 0;
                r = MoeRun.runOn(bridge, comms, shape, iterations, a.flag("verify"), progress);
            } else {
                r = MoeRun.run(bridge, rankDevices, shape, iterations, a.flag("verify"), progress);
            }
            progress.close();
            if (!reporter) {
                return Boolean.FALSE.equals(r.verified()) ? 1 : 0;
            }
            if (a.flag("json")) {
                Map<String, Object> j = Json.object();
                j.put("job", "moe");
                j.put("dtype", dtype.label());
                j.put("experts", experts);
                j.put("topK", topK);
                j.put("tokens", tokens);
                j.put("hidden", hidden);
                j.put("ffn", ffn);
                j.put("activation", "silu");
                j.put("seed", seed);
                j.put("ranks", r.ranks());
                j.put("backend", engine);
                j.put("devices", r.devices()); // under mpi: the devices of rank 0's process
                j.put("seconds", r.seconds());
                j.put("gflops", r.gflops());
                j.put("tokensPerExpert", java.util.Arrays.stream(r.tokensPerExpert()).boxed().toList());
                j.put("verified", r.verified());
                j.put("worstErrorOverBound", r.verified() == null ? null : r.worstErrorOverBound());
                spread(j, r.spread(), r.runs());
                out.println(Json.write(j));
            } else {
                out.printf("moe %s: %d tokens, %d experts, top-%d, hidden %d, ffn %d, SiLU, over %d ranks on %s%s: %.6f s per layer (%s), %.1f GFLOP/s%n",
                        dtype.label(), tokens, experts, topK, hidden, ffn, r.ranks(), String.join(",", r.devices()),
                        r.ranks() > r.devices().size() ? " (this process)" : "", r.seconds(), r.spread().describe(r.runs(), "--iterations"), r.gflops());
                out.println("  tokens per expert: " + java.util.Arrays.toString(r.tokensPerExpert()));
                if (r.verified() != null) {
                    out.printf("  %s against the F64 host reference (largest error %.2g of its bound)%n",
                            r.verified() ? "verified" : "VERIFICATION FAILED", r.worstErrorOverBound());
                }
            }
            return Boolean.FALSE.equals(r.verified()) ? 1 : 0;
        }
    }

    /** A positive option that must fit an int. */
    private static int intOption(Args a, String name, int fallback) {
        long v = a.positiveLong(name, fallback, 1);
        if (v > Integer.MAX_VALUE) {
            throw new Args.UsageException("--" + name + " must be <= " + Integer.MAX_VALUE + ", got " + v);
        }
        return (int) v;
    }

    private int tune(Args a) {
        java.time.Duration budget = dev.kernelbridge.Config.parseDuration(a.string("budget", "10m"), "--budget");
        try (KernelBridge bridge = KernelBridge.open(); Progress progress = new Progress("tune")) {
            List<Device> targets = new ArrayList<>();
            if (a.string("device", null) != null) {
                targets.add(bridge.device(a.string("device", null)));
            } else {
                for (Device d : bridge.devices()) {
                    if (bridge.isTunable(d)) {
                        targets.add(d);
                    }
                }
                if (targets.isEmpty()) {
                    throw new IllegalArgumentException("no device here has anything to tune (OpenCL and CUDA devices tune their kernels,"
                            + " the CPU its choice of GEMM routine)");
                }
            }
            java.time.Duration each = budget.dividedBy(targets.size());
            List<dev.kernelbridge.TuningReport> reports = new ArrayList<>();
            for (Device d : targets) {
                reports.add(bridge.tune(d, each, (f, what) -> progress.step(Math.round(f * 100), 100, d.id() + " " + what)));
            }
            progress.close();
            if (a.flag("json")) {
                List<Map<String, Object>> rows = new ArrayList<>();
                for (var r : reports) {
                    for (var k : r.kernels()) {
                        Map<String, Object> j = Json.object();
                        j.put("device", r.deviceId());
                        j.put("kernel", k.kernel());
                        j.put("dtype", k.dtype().label());
                        j.put("parameters", k.parameters());
                        j.put("gflops", k.gflops());
                        j.put("previousGflops", k.previousGflops());
                        j.put("candidates", k.candidates());
                        j.put("rejected", k.rejected());
                        j.put("shape", k.shape());
                        j.put("database", r.database());
                        rows.add(j);
                    }
                }
                out.println(Json.write(Map.of("tuned", rows)));
            } else {
                for (var r : reports) {
                    if (r.kernels().isEmpty()) {
                        out.println(r.deviceId() + ": nothing to tune here");
                        continue;
                    }
                    for (var k : r.kernels()) {
                        out.printf("%s %s %s: %s, %.1f GFLOP/s at %s (was %.1f); %d candidates timed, %d rejected%n", r.deviceId(), k.kernel(),
                                k.dtype().label(), k.parameters(), k.gflops(), k.shape(), k.previousGflops(), k.candidates(), k.rejected());
                    }
                    out.println("stored in " + r.database() + "; the next run uses it");
                }
            }
            return 0;
        }
    }

    private int demo(Args a) {
        boolean json = a.flag("json");
        if (a.flag("anticipate")) {
            if (a.flag("chaos")) {
                throw new Args.UsageException("--chaos and --anticipate are two demos: give one");
            }
            for (String o : List.of("device", "faults", "calls", "size", "policy")) {
                if (a.has(o)) {
                    throw new Args.UsageException("--" + o + " belongs to demo --chaos");
                }
            }
            long steps = a.positiveLong("steps", 400, 240);
            if (steps > 100_000) {
                throw new Args.UsageException("--steps must be <= 100000, got " + steps);
            }
            return new AnticipateDemo(out, json).run((int) steps, a.positiveLong("seed", 1, 1));
        }
        for (String o : List.of("steps", "seed")) {
            if (a.has(o)) {
                throw new Args.UsageException("--" + o + " belongs to demo --anticipate");
            }
        }
        if (a.flag("chaos")) {
            int calls = (int) a.positiveLong("calls", 24, 1);
            int size = (int) a.positiveLong("size", 256, 1);
            if (size > 2048) {
                throw new Args.UsageException("--size must be <= 2048 (each result is verified exactly on the host), got " + size);
            }
            return new ChaosDemo(out, json).run(a.string("device", null), a.string("faults", ChaosDemo.DEFAULT_FAULTS), calls, size,
                    a.string("policy", "pinned"));
        }
        for (String o : List.of("device", "faults", "calls", "size", "policy")) {
            if (a.has(o)) {
                throw new Args.UsageException("--" + o + " belongs to demo --chaos");
            }
        }
        List<Map<String, Object>> results = new ArrayList<>();
        boolean allOk = true;
        try (KernelBridge bridge = KernelBridge.open(); Progress progress = new Progress("demo")) {
            List<Device> devices = bridge.devices();
            if (!json) {
                out.println("KernelBridge demo: " + devices.size() + " device(s)");
                for (Device d : devices) {
                    out.println("  " + d.id() + "  " + d.name() + "  [" + d.vendor() + ", " + gib(d.memoryBytes()) + "]");
                }
                printUnavailable(bridge);
                out.println();
            }
            Table t = new Table("device", "job", "dtype", "shape", "seconds", "rate", "verified");
            for (Device d : devices) {
                for (DType dtype : List.of(DType.F32, DType.F64)) {
                    if (!d.supports(dtype)) {
                        continue;
                    }
                    var shape = new GemmRun.Shape(dtype, dtype, 512, 512, 512, Transpose.NO_TRANS, Transpose.NO_TRANS, Layout.ROW_MAJOR, 1, 0);
                    GemmRun.Result g = GemmRun.run(bridge, d, shape, 5, true, progress);
                    allOk &= Boolean.TRUE.equals(g.verified());
                    t.row(d.id(), "gemm", dtype.label(), "512x512x512", String.format("%.5f", g.seconds()),
                            String.format("%.1f GFLOP/s", g.gflops()), String.valueOf(g.verified()));
                    Map<String, Object> j = Json.object();
                    j.put("device", d.id());
                    j.put("job", "gemm");
                    j.put("dtype", dtype.label());
                    j.put("m", 512);
                    j.put("n", 512);
                    j.put("k", 512);
                    j.put("seconds", g.seconds());
                    j.put("gflops", g.gflops());
                    j.put("verified", g.verified());
                    results.add(j);
                }
                DType dtype = d.supports(DType.F32) ? DType.F32 : DType.F64;
                AllReduceRun.Result r = AllReduceRun.run(bridge, List.of(d, d), 1 << 20, dtype, ReduceOp.SUM, 5, true, progress);
                allOk &= Boolean.TRUE.equals(r.verified());
                t.row(d.id(), "allreduce sum", dtype.label(), "2 ranks x 1Mi", String.format("%.5f", r.seconds()),
                        String.format("%.1f GB/s bus", r.busBandwidthGBs()), String.valueOf(r.verified()));
                Map<String, Object> j = allReduceJson(r);
                j.put("job", "allreduce");
                results.add(j);
            }
            progress.close();
            if (json) {
                out.println(Json.write(Map.of("results", results, "ok", allOk)));
            } else {
                t.print(out);
                out.println();
                out.println(allOk ? "all results verified" : "SOME RESULTS FAILED VERIFICATION");
            }
            return allOk ? 0 : 1;
        }
    }

    private int doctor(Args a) {
        try (KernelBridge bridge = KernelBridge.open()) {
            List<Doctor.Check> checks = Doctor.checks(bridge);
            long problems = checks.stream().filter(c -> !c.ok()).count();
            if (a.flag("json")) {
                List<Map<String, Object>> rows = new ArrayList<>();
                for (Doctor.Check c : checks) {
                    Map<String, Object> m = Json.object();
                    m.put("check", c.name());
                    m.put("ok", c.ok());
                    m.put("detail", c.detail());
                    m.put("fix", c.ok() ? null : c.fix());
                    rows.add(m);
                }
                Map<String, Object> j = Json.object();
                j.put("checks", rows);
                j.put("settings", Doctor.knobs(bridge.config()));
                j.put("problems", problems);
                out.println(Json.write(j));
            } else {
                for (Doctor.Check c : checks) {
                    out.printf("%-4s %-16s %s%n", c.ok() ? "ok" : "FIX", c.name(), c.detail());
                    if (!c.ok()) {
                        out.printf("     %-16s -> %s%n", "", c.fix());
                    }
                }
                out.println();
                out.println("settings (property / environment variable = value, from where):");
                for (Map<String, Object> k : Doctor.knobs(bridge.config())) {
                    out.printf("  %s / %s = %s  (%s)%n", k.get("property"), k.get("environment"), k.get("value"), k.get("source"));
                }
                out.println();
                out.println(problems == 0 ? "no problems found" : problems + " problem(s) found");
            }
            return 0;
        }
    }

    /** Backends found on the class path that give no device here (not those left out by kernelbridge.backend). */
    static List<dev.kernelbridge.BackendStatus> unavailable(KernelBridge bridge) {
        return bridge.backends().stream().filter(s -> s.state() == dev.kernelbridge.BackendStatus.State.UNAVAILABLE
                || s.state() == dev.kernelbridge.BackendStatus.State.FAILED).toList();
    }

    /** One line per backend that is not available: its cause, and the command that adds it. */
    private void printUnavailable(KernelBridge bridge) {
        for (dev.kernelbridge.BackendStatus s : unavailable(bridge)) {
            out.println("  " + s.name() + ": not available: " + s.detail() + (s.fix().isEmpty() ? "" : "; to add it: " + s.fix()));
        }
    }

    private static Map<String, Object> allReduceJson(AllReduceRun.Result r) {
        Map<String, Object> j = Json.object();
        j.put("ranks", r.ranks());
        j.put("count", r.count());
        j.put("dtype", r.dtype().label());
        j.put("op", r.op().name().toLowerCase(java.util.Locale.ROOT));
        j.put("device", r.device());
        j.put("seconds", r.seconds());
        j.put("algBandwidthGBs", r.algBandwidthGBs());
        j.put("busBandwidthGBs", r.busBandwidthGBs());
        j.put("verified", r.verified());
        spread(j, r.spread(), r.runs());
        return j;
    }

    /** The timed runs' spread in a JSON result: fastest, slowest, interquartile range / median, and whether that is wide. */
    private static void spread(Map<String, Object> j, WarmUp.Spread s, int runs) {
        j.put("runs", runs);
        j.put("minSeconds", s.min());
        j.put("maxSeconds", s.max());
        j.put("spread", s.relative());
        j.put("spreadWide", s.wide());
    }

    private static Map<String, Object> describe(Device d) {
        Map<String, Object> m = Json.object();
        m.put("id", d.id());
        m.put("backend", d.backend());
        m.put("name", d.name());
        m.put("vendor", d.vendor());
        m.put("kind", d.kind().name().toLowerCase(java.util.Locale.ROOT));
        m.put("memoryBytes", d.memoryBytes());
        m.put("maxAllocationBytes", d.maxAllocationBytes());
        m.put("dtypes", d.dtypes().stream().map(DType::label).sorted().toList());
        m.put("available", true);
        m.put("details", d.details());
        m.put("telemetry", telemetry(d.telemetry()));
        return m;
    }

    /** What a device reports about its condition; the fields it cannot report are left out. */
    static Map<String, Object> telemetry(dev.kernelbridge.DeviceTelemetry t) {
        Map<String, Object> m = Json.object();
        m.put("source", t.source());
        putKnown(m, "correctedMemoryErrors", t.correctedMemoryErrors());
        putKnown(m, "uncorrectedMemoryErrors", t.uncorrectedMemoryErrors());
        putKnown(m, "retiredPages", t.retiredPages());
        putKnown(m, "spareRowsLeft", t.spareRowsLeft());
        putKnown(m, "throttleEvents", t.throttleEvents());
        putKnown(m, "linkReplays", t.linkReplays());
        putKnown(m, "driverEvents", t.driverEvents());
        if (!Double.isNaN(t.temperatureCelsius())) {
            m.put("temperatureCelsius", t.temperatureCelsius());
        }
        return m;
    }

    /** The telemetry in a few words for a table cell: what the device reports, "-" when nothing. */
    static String signs(dev.kernelbridge.DeviceTelemetry t) {
        List<String> parts = new ArrayList<>();
        if (t.correctedMemoryErrors() >= 0) {
            parts.add("ce " + t.correctedMemoryErrors());
        }
        if (t.uncorrectedMemoryErrors() >= 0) {
            parts.add("ue " + t.uncorrectedMemoryErrors());
        }
        if (t.spareRowsLeft() >= 0) {
            parts.add("spare rows " + t.spareRowsLeft());
        }
        if (t.throttleEvents() >= 0) {
            parts.add("throttled " + t.throttleEvents());
        }
        if (t.linkReplays() >= 0) {
            parts.add("replays " + t.linkReplays());
        }
        if (t.driverEvents() >= 0) {
            parts.add("driver events " + t.driverEvents());
        }
        if (!Double.isNaN(t.temperatureCelsius())) {
            parts.add(String.format(java.util.Locale.ROOT, "%.0f C", t.temperatureCelsius()));
        }
        return parts.isEmpty() ? "-" : String.join(", ", parts);
    }

    private static void putKnown(Map<String, Object> m, String name, long v) {
        if (v >= 0) {
            m.put(name, v);
        }
    }

    /** A per-call time in the unit that shows it: µs below a millisecond, ms below a second. */
    static String perCall(double seconds) {
        return seconds < 1e-3 ? String.format("%.2f us", seconds * 1e6) : seconds < 1 ? String.format("%.3f ms", seconds * 1e3)
                : String.format("%.3f s", seconds);
    }

    static String gib(long bytes) {
        return bytes <= 0 ? "?" : String.format("%.1f GiB", bytes / (double) (1L << 30));
    }

    /** Held so that the JUL logger (weakly referenced by its manager) keeps the level set here. */
    private static Logger libraryLogger;

    /** Library logging goes to stderr, one line per record; only warnings unless --verbose (then KernelBridge's DEBUG lines too). */
    private static void configureLogging(boolean verbose) {
        System.setProperty("java.util.logging.SimpleFormatter.format", "kernelbridge: %4$s: %5$s%6$s%n");
        Logger root = Logger.getLogger("");
        root.setLevel(Level.WARNING);
        libraryLogger = Logger.getLogger("dev.kernelbridge");
        libraryLogger.setLevel(verbose ? Level.FINE : Level.WARNING);
        for (var h : root.getHandlers()) {
            h.setLevel(verbose ? Level.FINE : Level.WARNING);
            h.setFormatter(new SimpleFormatter());
        }
    }

}
