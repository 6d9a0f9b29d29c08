package dev.kernelbridge.cuda;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one-command GPU check that {@code ci/gpu-bundle} packs: each step in a JVM of its own under a
 * time limit (8 minutes in all), its output kept in {@code log.txt}, its figures in {@code summary.md}
 * and {@code results.json}. Steps: doctor; devices, with each GPU's NVML telemetry (on a host whose CUDA
 * works, NVML must have been read for every CUDA device); the conformance kit on cuda:0 (a missing GPU is a
 * failure); the kit's grouped GEMM cases with the shared kernel forced; {@code gemm --verify} on cuda:0 per dtype at n = 4096 and 8192, with the routine chosen by
 * calibration and forced onto the shared kernel; cuBLAS called directly through this backend's own
 * binding (the ceiling for the dispatch's cost); the JCuda comparison (JMH, short); a failover check
 * (faults injected into cuda:0, the work re-run on the CPU, every result verified).
 *
 * <p>Exit status: 0 every step passed; 1 a step failed; 4 no CUDA device — then only the steps that
 * need no GPU ran (doctor, devices, the kit's launcher, which reports every case skipped), all
 * passed, and the cause is printed as "no CUDA device: ..." (1 if one of those steps failed).
 *
 * <pre>GpuCheck OUT_DIR          (the bundle's run script sets the class path, the runtime and the library settings)
 * GpuCheck --direct-cublas   (a step: cuBLAS on cuda:0 through the FFM binding, GFLOP/s per dtype and n)</pre>
 */
public final class GpuCheck {
    public static final int NO_GPU = 4;
    private static final Duration BUDGET = Duration.ofMinutes(8);
    private static final int[] SIZES = {4096, 8192};

    private final Path out;
    private final Path home;
    private final StringBuilder log = new StringBuilder();
    private final List<Map<String, Object>> steps = new ArrayList<>();
    private final long deadline = System.nanoTime() + BUDGET.toNanos();
    private boolean failed;

    private GpuCheck(Path out, Path home) {
        this.out = out;
        this.home = home;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--direct-cublas")) {
            System.exit(directCublas());
        }
        if (args.length != 1) {
            System.err.println("usage: GpuCheck OUT_DIR | --direct-cublas");
            System.exit(2);
        }
        Path home = Path.of(System.getProperty("kernelbridge.bundle.home", "."));
        System.exit(new GpuCheck(Files.createDirectories(Path.of(args[0])), home).run());
    }

    private int run() throws IOException, InterruptedException {
        Availability cuda = new CudaBackendProvider().probe();
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("gpu", cuda.available());
        results.put("cuda", cuda.cause());
        say("CUDA: " + (cuda.available() ? cuda.cause() : "no CUDA device: " + cuda.cause()));

        step("doctor", 60, cli("doctor"), r -> true);
        // Each CUDA device's health counters come with the list: on a host whose CUDA works, NVML (part of the
        // driver) must have been read for every one of them, or the telemetry the pool drains by is blind there.
        Step devices = step("devices, with each GPU's NVML telemetry", 60, cli("devices", "--json"),
                r -> r.exit == 0 && (!cuda.available() || nvmlReadForAll(cudaTelemetry(devicesJson(r.output)))));
        results.put("devices", devicesJson(devices.output));
        results.put("telemetry", cudaTelemetry(devicesJson(devices.output)));

        // The kit: with a GPU every case must pass; without one the launcher still runs and reports them skipped.
        List<String> kit = java(List.of("-Dkernelbridge.test.requireGpu=" + cuda.available()), classPath("lib", "test"),
                "org.junit.platform.console.ConsoleLauncher", "execute", "--select-class", "dev.kernelbridge.cuda.CudaConformanceTest",
                "--details=summary", "--disable-banner");
        Step kitRun = step("conformance kit on cuda:0", 200, kit, r -> cuda.available() ? r.exit == 0 : r.output.contains("tests found"));
        Map<String, Object> kitCounts = new LinkedHashMap<>();
        for (String what : new String[] {"found", "successful", "failed", "skipped", "aborted"}) {
            kitCounts.put(what, count(kitRun.output, "(\\d+) tests " + what));
        }
        results.put("kit", kitCounts);

        if (!cuda.available()) {
            results.put("skipped", "gemm, direct cuBLAS, JCuda and failover steps: they need a CUDA device");
            // The steps that run without a device must still pass: a bundle missing a jar fails here, not on the GPU host.
            finish(results, (failed ? "some steps failed; " : "") + "no CUDA device: " + cuda.cause());
            return failed ? 1 : NO_GPU;
        }

        // The kit's grouped GEMM cases again with the shared kernel forced: the run above takes cublasGemmGroupedBatchedEx
        // wherever the cuBLAS here has it and takes the groups, so this is the run that proves gemm.cl's grouped kernels on a GPU.
        List<String> grouped = java(List.of("-Dkernelbridge.test.requireGpu=true", "-Dkernelbridge.cuda.gemm=kernel"), classPath("lib", "test"),
                "org.junit.platform.console.ConsoleLauncher", "execute", "--select-class", "dev.kernelbridge.cuda.CudaConformanceTest",
                "--include-tag", "gemm-grouped", "--details=summary", "--disable-banner");
        Step groupedRun = step("grouped GEMM kit cases on the shared kernel", 120, grouped,
                r -> r.exit == 0 && count(r.output, "(\\d+) tests successful") > 0);
        Map<String, Object> groupedCounts = new LinkedHashMap<>();
        for (String what : new String[] {"found", "successful", "failed", "skipped"}) {
            groupedCounts.put(what, count(groupedRun.output, "(\\d+) tests " + what));
        }
        results.put("groupedKernel", groupedCounts);

        List<Map<String, Object>> gemms = new ArrayList<>();
        for (String routine : new String[] {"auto", "kernel"}) {
            for (String dtype : new String[] {"f32", "f64"}) {
                for (int n : SIZES) {
                    String s = String.valueOf(n);
                    List<String> cmd = java(List.of("-Dkernelbridge.cuda.gemm=" + routine), classPath("lib"), "dev.kernelbridge.cli.Main",
                            "gemm", "--device", "cuda:0", "--dtype", dtype, "--m", s, "--n", s, "--k", s, "--repeat", "5", "--verify", "--json");
                    Step g = step("gemm " + dtype + " " + n + " (" + routine + ")", 60, cmd, r -> r.exit == 0 && r.output.contains("\"verified\":true"));
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("routine", routine.equals("auto") ? "calibrated (cuBLAS where faster)" : "shared kernel");
                    row.put("dtype", dtype);
                    row.put("n", n);
                    row.put("gflops", number(g.output, "gflops"));
                    row.put("verified", g.output.contains("\"verified\":true"));
                    gemms.add(row);
                }
            }
        }
        results.put("gemm", gemms);

        Step direct = step("cuBLAS directly (FFM)", 90, java(List.of(), classPath("lib"), GpuCheck.class.getName(), "--direct-cublas"),
                r -> r.exit == 0);
        List<Map<String, Object>> directRows = new ArrayList<>();
        Matcher m = Pattern.compile("direct-cublas (f32|f64) (\\d+) ([0-9.]+) GFLOP/s").matcher(direct.output);
        while (m.find()) {
            directRows.add(Map.of("dtype", m.group(1), "n", Integer.parseInt(m.group(2)), "gflops", Double.parseDouble(m.group(3))));
        }
        results.put("directCublas", directRows);

        Step chaos = step("failover (faults in cuda:0, re-run on the CPU)", 90, cli("demo", "--chaos", "--device", "cuda:0", "--calls", "12",
                "--size", "1024", "--json"), r -> r.exit == 0 && r.output.contains("\"correct\":12"));
        results.put("failover", Map.of("correct", count(chaos.output, "\"correct\":(\\d+)"), "failovers", count(chaos.output, "\"failovers\":(\\d+)")));

        Path jmh = home.resolve("jmh/benchmarks.jar");
        if (Files.exists(jmh)) {
            Step bench = step("JCuda comparison (JMH, short)", 150, java(List.of(), jmh.toString(), "org.openjdk.jmh.Main", "CudaBindingBenchmark",
                    "-f", "1", "-wi", "2", "-i", "3", "-w", "1s", "-r", "1s", "-rf", "json", "-rff", out.resolve("jmh.json").toString()),
                    r -> r.exit == 0);
            int table = bench.output.lastIndexOf("Benchmark ");
            results.put("jcuda", table < 0 ? "" : bench.output.substring(table).strip());
        }
        finish(results, failed ? "some steps failed" : "every step passed");
        return failed ? 1 : 0;
    }

    // ------------------------------------------------------------------------------------------------

    private record Step(String name, int exit, double seconds, boolean timedOut, boolean ok, String output) { }

    private Step step(String name, int limitSeconds, List<String> command, java.util.function.Predicate<Step> passed)
            throws IOException, InterruptedException {
        long left = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime()));
        long limit = Math.min(limitSeconds, left);
        say("== " + name + " (limit " + limit + " s)");
        long t0 = System.nanoTime();
        Path capture = Files.createTempFile("gpucheck", ".out");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(capture.toFile()).start();
        boolean ended = p.waitFor(limit, TimeUnit.SECONDS);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        String output = Files.readString(capture, StandardCharsets.UTF_8);
        Files.deleteIfExists(capture);
        Step s = new Step(name, ended ? p.exitValue() : -1, (System.nanoTime() - t0) * 1e-9, !ended, false, output);
        boolean ok = ended && passed.test(s);
        s = new Step(name, s.exit, s.seconds, s.timedOut, ok, output);
        failed |= !ok;
        log.append(output).append(output.endsWith("\n") ? "" : "\n");
        say(String.format(Locale.ROOT, "   %s in %.1f s%s", ok ? "ok" : "FAILED", s.seconds, s.timedOut ? " (time limit)" : ", exit " + s.exit));
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", name);
        row.put("ok", ok);
        row.put("exit", s.exit);
        row.put("seconds", Math.round(s.seconds * 10) / 10.0);
        row.put("timedOut", s.timedOut);
        steps.add(row);
        return s;
    }

    private void say(String line) {
        System.out.println(line);
        log.append(line).append('\n');
    }

    private List<String> cli(String... args) {
        return java(List.of(), classPath("lib"), "dev.kernelbridge.cli.Main", args);
    }

    private List<String> java(List<String> properties, String classPath, String main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-XX:+UseParallelGC",
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(properties);
        cmd.addAll(List.of("-cp", classPath, main));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Every jar in the bundle's {@code folders}, as a class path. */
    private String classPath(String... folders) {
        List<String> jars = new ArrayList<>();
        for (String f : folders) {
            try (var s = Files.list(home.resolve(f))) {
                s.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(p -> jars.add(p.toString()));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("the bundle has no " + home.resolve(f), e);
            }
        }
        return String.join(java.io.File.pathSeparator, jars);
    }

    /** The JSON line of {@code devices --json}'s output (the rest is log). */
    private static String devicesJson(String output) {
        return output.lines().filter(l -> l.startsWith("{")).findFirst().orElse(output.strip());
    }

    /**
     * Each CUDA device's telemetry from {@code devices --json}: its id and the flat "telemetry" object's
     * fields (the CLI leaves out the ones the device cannot report). Empty without a CUDA device.
     */
    static List<Map<String, Object>> cudaTelemetry(String devicesJson) {
        List<Map<String, Object>> out = new ArrayList<>();
        Matcher d = Pattern.compile("\\{\"id\":\"(cuda:\\d+)\".*?\"telemetry\":\\{([^{}]*)\\}").matcher(devicesJson);
        while (d.find()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("device", d.group(1));
            Matcher f = Pattern.compile("\"(\\w+)\":(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([-0-9.eE]+))").matcher(d.group(2));
            while (f.find()) {
                row.put(f.group(1), f.group(2) != null ? f.group(2).replace("\\\"", "\"").replace("\\\\", "\\")
                        : f.group(3).matches("-?\\d+") ? (Object) Long.parseLong(f.group(3)) : (Object) Double.parseDouble(f.group(3)));
            }
            out.add(row);
        }
        return out;
    }

    /** True when there is a CUDA device and NVML was read for each ("nvml 550.54.15"; a failure reads "nvml: why"). */
    static boolean nvmlReadForAll(List<Map<String, Object>> telemetry) {
        return !telemetry.isEmpty() && telemetry.stream().allMatch(t -> String.valueOf(t.get("source")).startsWith("nvml "));
    }

    private static long count(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        long total = 0;
        while (m.find()) {
            total += Long.parseLong(m.group(1));
        }
        return total;
    }

    private static Double number(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":([-0-9.Ee]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : null;
    }

    private void finish(Map<String, Object> results, String verdict) throws IOException {
        results.put("steps", steps);
        results.put("verdict", verdict);
        say("verdict: " + verdict);
        Files.writeString(out.resolve("results.json"), json(results) + "\n");
        Files.writeString(out.resolve("summary.md"), summary(results));
        Files.writeString(out.resolve("log.txt"), log);
    }

    @SuppressWarnings("unchecked")
    private static String summary(Map<String, Object> r) {
        StringBuilder md = new StringBuilder("# KernelBridge GPU check\n\n");
        md.append("- CUDA: ").append(r.get("cuda")).append("\n- verdict: **").append(r.get("verdict")).append("**\n");
        md.append("- conformance kit on cuda:0: ").append(r.get("kit")).append("\n\n| step | ok | s |\n|---|---|---:|\n");
        for (Map<String, Object> s : (List<Map<String, Object>>) r.get("steps")) {
            md.append("| ").append(s.get("step")).append(" | ").append(Boolean.TRUE.equals(s.get("ok")) ? "ok" : "**FAILED**")
                    .append(" | ").append(s.get("seconds")).append(" |\n");
        }
        List<Map<String, Object>> telemetry = (List<Map<String, Object>>) r.get("telemetry");
        if (telemetry != null && !telemetry.isEmpty()) {
            // NVML's counters as the pool sees them; "-" where the GPU does not report a field
            String[] fields = {"correctedMemoryErrors", "uncorrectedMemoryErrors", "retiredPages", "spareRowsLeft", "throttleEvents",
                "linkReplays", "driverEvents", "temperatureCelsius"};
            md.append("\n| GPU telemetry | source | corrected | uncorrected | retired | spare rows | throttles | PCIe replays | XIDs | °C |\n")
                    .append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Map<String, Object> t : telemetry) {
                md.append("| ").append(t.get("device")).append(" | ").append(t.get("source"));
                for (String f : fields) {
                    md.append(" | ").append(t.getOrDefault(f, "-"));
                }
                md.append(" |\n");
            }
        }
        if (r.containsKey("gemm")) {
            md.append("\n| GEMM on cuda:0 | dtype | n | GFLOP/s | verified |\n|---|---|---:|---:|---|\n");
            for (Map<String, Object> g : (List<Map<String, Object>>) r.get("gemm")) {
                md.append("| KernelBridge, ").append(g.get("routine")).append(" | ").append(g.get("dtype")).append(" | ").append(g.get("n"))
                        .append(" | ").append(g.get("gflops")).append(" | ").append(g.get("verified")).append(" |\n");
            }
            for (Map<String, Object> g : (List<Map<String, Object>>) r.get("directCublas")) {
                md.append("| cuBLAS directly (FFM) | ").append(g.get("dtype")).append(" | ").append(g.get("n")).append(" | ")
                        .append(String.format(Locale.ROOT, "%.1f", (Double) g.get("gflops"))).append(" | |\n");
            }
            md.append("\nfailover: ").append(r.get("failover")).append("\n\n```\n").append(r.getOrDefault("jcuda", "")).append("\n```\n");
        } else {
            md.append("\n").append(r.get("skipped")).append("\n");
        }
        return md.toString();
    }

    private static String json(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof String s) {
            StringBuilder b = new StringBuilder("\"");
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') {
                    b.append('\\').append(c);
                } else if (c < 0x20) {
                    b.append(String.format("\\u%04x", (int) c));
                } else {
                    b.append(c);
                }
            }
            return b.append('"').toString();
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof Map<?, ?> m) {
            List<String> parts = new ArrayList<>();
            m.forEach((k, x) -> parts.add(json(String.valueOf(k)) + ":" + json(x)));
            return "{" + String.join(",", parts) + "}";
        }
        if (v instanceof List<?> l) {
            List<String> parts = new ArrayList<>();
            l.forEach(x -> parts.add(json(x)));
            return "[" + String.join(",", parts) + "]";
        }
        return json(v.toString());
    }

    // ------------------------------------------------------------------------------------------------

    /** cuBLAS on device 0 through the binding, no KernelBridge in between: the best of 5 timed calls after one. */
    private static int directCublas() {
        String library = Config.fromEnvironment().get(CudaBackendProvider.LIBRARY);
        CudaDriver cu = CudaDriver.load(library.isEmpty() ? CudaDriver.DEFAULT_LIBRARY : library)
                .orElseThrow(() -> new IllegalStateException("no CUDA driver"));
        Cublas cublas = Cublas.load().orElseThrow(() -> new IllegalStateException("no cuBLAS (kernelbridge.cuda.lib.path)"));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS), dev = a.allocate(ValueLayout.JAVA_INT);
            require(cu, "cuInit", cu.call("cuInit", 0));
            require(cu, "cuDeviceGet", cu.call("cuDeviceGet", dev, 0));
            require(cu, "cuDevicePrimaryCtxRetain", cu.call("cuDevicePrimaryCtxRetain", out, dev.get(ValueLayout.JAVA_INT, 0)));
            require(cu, "cuCtxSetCurrent", cu.ctxSetCurrent(out.get(ValueLayout.ADDRESS, 0)));
            require(cu, "cuStreamCreate", cu.call("cuStreamCreate", out, CudaDevice.STREAM_NON_BLOCKING));
            MemorySegment stream = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment handle = cublas.create(stream);
            for (boolean f64 : new boolean[] {false, true}) {
                for (int n : SIZES) {
                    long bytes = (long) n * n * (f64 ? 8 : 4);
                    long[] buf = new long[3];
                    MemorySegment p = a.allocate(ValueLayout.JAVA_LONG);
                    for (int i = 0; i < 3; i++) {
                        require(cu, "cuMemAlloc", cu.call("cuMemAlloc", p, bytes));
                        buf[i] = p.get(ValueLayout.JAVA_LONG, 0);
                        require(cu, "cuMemsetD8", cu.call("cuMemsetD8", buf[i], 0, bytes));
                    }
                    MemorySegment alpha = f64 ? a.allocateFrom(ValueLayout.JAVA_DOUBLE, 1) : a.allocateFrom(ValueLayout.JAVA_FLOAT, 1);
                    MemorySegment beta = f64 ? a.allocateFrom(ValueLayout.JAVA_DOUBLE, 0) : a.allocateFrom(ValueLayout.JAVA_FLOAT, 0);
                    int type = f64 ? Cublas.CUDA_R_64F : Cublas.CUDA_R_32F, compute = f64 ? Cublas.COMPUTE_64F : Cublas.COMPUTE_32F;
                    long best = Long.MAX_VALUE;
                    for (int i = 0; i < 6; i++) {
                        long t0 = System.nanoTime();
                        int s = cublas.call("cublasGemmEx", handle, Cublas.OP_N, Cublas.OP_N, n, n, n, alpha, MemorySegment.ofAddress(buf[0]),
                                type, n, MemorySegment.ofAddress(buf[1]), type, n, beta, MemorySegment.ofAddress(buf[2]), type, n, compute,
                                Cublas.GEMM_DEFAULT);
                        require(cu, "cuStreamSynchronize", cu.streamSynchronize(stream));
                        if (s != 0) {
                            throw new IllegalStateException("cublasGemmEx: " + cublas.statusString(s));
                        }
                        if (i > 0) {
                            best = Math.min(best, System.nanoTime() - t0);
                        }
                    }
                    System.out.printf(Locale.ROOT, "direct-cublas %s %d %.1f GFLOP/s%n", f64 ? "f64" : "f32", n, 2.0 * n * n * n / best);
                    for (long b : buf) {
                        cu.call("cuMemFree", b);
                    }
                }
            }
            cublas.call("cublasDestroy_v2", handle);
        }
        return 0;
    }

    private static void require(CudaDriver cu, String call, int result) {
        if (result != 0) {
            throw new IllegalStateException(call + " failed: " + cu.errorName(result));
        }
    }
}
