package dev.kernelbridge.examples.training;

import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The training figures ({@code ci/bench-training}): samples/s on the CPU alone, two CPU ranks, CPU +
 * PoCL and two MPI processes; the all-reduce's share of a step; the cost, in steps, of one injected
 * device failure and of one resume. In-process runs are timed after a warm-up run in the same JVM;
 * every figure is the median of three runs. Writes {@code DIR/README.md} and the loss curve.
 */
public final class TrainingBench {
    private static final int STEPS = 300;

    private TrainingBench() { }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "reports/training");
        Files.createDirectories(dir);
        List<String> rows = new ArrayList<>();
        StringBuilder md = new StringBuilder();
        String cpu = cpuModel();
        md.append("# Training figures\n\n");
        md.append("`ci/bench-training` on ").append(cpu).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, JDK ").append(Runtime.version()).append(". Model: MLP [64, 256, 256, 16], global batch 256, ")
                .append(STEPS).append(" steps, F64 fixed-point GEMMs; median of 3 runs after a warm-up run.\n\n");
        md.append("| ranks | devices | samples/s | all-reduce share of a step |\n|---|---|---:|---:|\n");
        Trainer.Result cpuOne = median(List.of("cpu:0"), Config.defaults(), null);
        md.append(row("1 in-process", "cpu:0", cpuOne));
        Trainer.Result cpuTwo = median(List.of("cpu:0", "cpu:0"), Config.defaults(), null);
        md.append(row("2 in-process", "cpu:0, cpu:0", cpuTwo));
        boolean openCl;
        try (KernelBridge kb = KernelBridge.open()) {
            openCl = kb.devices().stream().anyMatch(d -> d.id().equals("opencl:0"));
        }
        Trainer.Result mixed = null;
        if (openCl) {
            mixed = median(List.of("cpu:0", "opencl:0"), Config.defaults(), null);
            md.append(row("2 in-process", "cpu:0, opencl:0 (PoCL)", mixed));
        }
        double[] mpi = mpiSamplesPerSecond();
        if (mpi != null) {
            md.append(String.format(Locale.ROOT, "| 2 MPI processes | cpu:0 each | %.0f | %.1f%% |%n", mpi[0], 100 * mpi[1]));
        }
        md.append("\nMPI figures include each process's JIT warm-up (a fresh JVM per run).\n\n");

        List<String> pair = openCl ? List.of("cpu:0", "opencl:0") : List.of("cpu:0", "cpu:0");
        String victim = openCl ? "opencl:0" : "cpu:0";
        Trainer.Result clean = openCl ? mixed : cpuTwo;
        double stepSeconds = STEPS * 256.0 / clean.samplesPerSecond() / STEPS;
        Trainer.Result faulty = median(pair, Config.defaults().with(Config.FAULTS, victim + "=fail-every:1,times:1"), null);
        double wholeRunSteps = (STEPS * 256.0 / faulty.samplesPerSecond() - STEPS * 256.0 / clean.samplesPerSecond()) / stepSeconds;
        md.append("## What a fault and a resume cost\n\n");
        md.append(String.format(Locale.ROOT, "- One launch failure on %s (its GEMM is re-run on the other device; one failure degrades"
                + " the device but does not quarantine it): %d failover(s); the failed attempt cost %.2f ms = %.3f steps (%.1f ms per"
                + " step); the whole run took %+.1f steps of time against the fault-free median (noise included); the loss curve is"
                + " bitwise the fault-free one: %s.%n", victim, faulty.failovers(), 1e3 * faulty.secondsLostToFaults(),
                faulty.secondsLostToFaults() / stepSeconds, 1e3 * stepSeconds, wholeRunSteps, Arrays.equals(faulty.losses(), clean.losses())));
        Path ckpt = Files.createTempDirectory("kb-bench-ckpt");
        train(pair, Config.defaults(), new TrainConfigPatch(ckpt, STEPS / 2, false));
        long t0 = System.nanoTime();
        Trainer.Result resumed = train(pair, Config.defaults(), new TrainConfigPatch(ckpt, 0, true));
        double resumeSeconds = (System.nanoTime() - t0) * 1e-9;
        double resumeSteps = (resumeSeconds - (STEPS - resumed.startStep()) * stepSeconds) / stepSeconds;
        md.append(String.format(Locale.ROOT, "- One resume (in process, from the checkpoint of step %d, checkpoints every 50 steps): %.1f steps of"
                + " time beyond the steps it redoes; the curve is bitwise the uninterrupted one: %s. A crash between checkpoints also"
                + " loses the steps since the last one (at most 49 here), and a new process adds its JVM start.%n",
                resumed.startStep(), resumeSteps, Arrays.equals(resumed.losses(), clean.losses())));
        TrainingReport.write(dir, new TrainConfig(STEPS, 1, pair, false, null, 256, 64, 256, 2, 16, 0.002, null, 50, 0, false), clean);
        md.append("\n![loss curve](loss.png)\n");
        Files.writeString(dir.resolve("README.md"), md, StandardCharsets.UTF_8);
        System.out.println(md);
        System.exit(0);
    }

    private record TrainConfigPatch(Path checkpoint, int stopAfter, boolean resume) { }

    private static String row(String ranks, String devices, Trainer.Result r) {
        return String.format(Locale.ROOT, "| %s | %s | %.0f | %.1f%% |%n", ranks, devices, r.samplesPerSecond(), 100 * r.allReduceShare());
    }

    private static Trainer.Result median(List<String> devices, Config settings, TrainConfigPatch patch) throws InterruptedException {
        train(devices, settings, patch); // warm-up
        List<Trainer.Result> runs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            runs.add(train(devices, settings, patch));
        }
        runs.sort((a, b) -> Double.compare(a.samplesPerSecond(), b.samplesPerSecond()));
        return runs.get(1);
    }

    private static Trainer.Result train(List<String> devices, Config settings, TrainConfigPatch patch) throws InterruptedException {
        TrainConfig c = new TrainConfig(STEPS, 1, devices, false, null, 256, 64, 256, 2, 16, 0.002, patch == null ? null : patch.checkpoint(),
                50, patch == null ? 0 : patch.stopAfter(), patch != null && patch.resume());
        try (KernelBridge kb = KernelBridge.open(settings)) {
            return new Trainer(kb, c, Trainer.Listener.SILENT).run();
        }
    }

    /** Samples/s and all-reduce share of {@code mpirun -np 2}, median of 3; null without mpirun. */
    private static double[] mpiSamplesPerSecond() throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of("/usr/bin/mpirun"))) {
            return null;
        }
        List<double[]> runs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", "2", "--oversubscribe"));
            if ("root".equals(System.getProperty("user.name"))) {
                cmd.add("--allow-run-as-root");
            }
            cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), TrainMain.class.getName(),
                    "--backend", "mpi", "--device", "cpu:0", "--steps", String.valueOf(STEPS), "--json"));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("KERNELBRIDGE_BACKEND", "cpu");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("mpirun training failed:\n" + out);
            }
            runs.add(new double[] {field(out, "samplesPerSecond"), field(out, "allReduceShare")});
        }
        runs.sort((a, b) -> Double.compare(a[0], b[0]));
        return runs.get(1);
    }

    private static double field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":([-0-9.Ee]+)").matcher(json.substring(json.lastIndexOf("{\"steps\"")));
        if (!m.find()) {
            throw new IllegalStateException("no " + name + " in " + json);
        }
        return Double.parseDouble(m.group(1));
    }

    /** The CPU the figures were measured on, for the reports. */
    static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
        } catch (IOException e) {
            return "unknown CPU";
        }
    }
}
