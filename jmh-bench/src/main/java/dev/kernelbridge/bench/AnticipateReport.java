package dev.kernelbridge.bench;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Stragglers;
import dev.kernelbridge.internal.foresight.SlowDetector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Issue 30's targets over seeds, written to {@code DIR/README.md} and {@code DIR/anticipate.json}:
 * <ul>
 *   <li><b>Trend faults, end to end on real devices:</b> for each seed, cpu:0 (pinned, with fallback)
 *       under {@code ce-trend:100,ce-ramp:200}: its corrected errors climb 10–50× from its launch 100
 *       and it is lost at launch 300, as a failing HBM page; PoCL's opencl:0 is the other device. 400
 *       GEMMs on small integers, each result checked bit for bit against the exact product. Reported:
 *       drained before the fault, lead time in launches, lost or wrong steps, and the same run
 *       without the ramp (the same base error rate) for false drains.</li>
 *   <li><b>Fail-slow, on seeded step-time streams:</b> the detector the scheduler runs
 *       ({@link SlowDetector}, with its one-second lasting rule and 100 ms steps) on 1,000 clean runs
 *       with log-normal noise (σ 5% and 10%) and spikes (1–3 steps, 1.5–3×, starting at 1% of steps),
 *       and on 200 runs each that slow by 1.1×, 1.5× and 2× from step 100.</li>
 * </ul>
 * Usage: {@code AnticipateReport DIR [seeds]}; {@code ci/bench-anticipate} runs it.
 */
public final class AnticipateReport {
    private static final int N = 32;
    private static final int CALLS = 400;
    private static final int HARD_FAULT = 300;
    private static final double STEP_NANOS = 100e6;

    private AnticipateReport() { }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "reports/anticipate");
        int seeds = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        Files.createDirectories(dir);
        StringBuilder md = new StringBuilder();
        StringBuilder json = new StringBuilder("{");

        Trend trend = trend(seeds, true), clean = trend(seeds, false);
        int[] leads = trend.leads.stream().mapToInt(Integer::intValue).sorted().toArray();
        long ahead50 = trend.leads.stream().filter(l -> l >= 50).count();
        md.append(String.format(Locale.ROOT, """
                ## Trend faults (end to end: cpu:0 under ce-trend, opencl:0 beside it; %d seeds)

                | | figure | target |
                |---|---:|---|
                | drained ≥ 50 launches before the hard fault | %d of %d (%.1f%%) | ≥ 95%% |
                | drained before the hard fault at all | %d of %d | |
                | lead time, launches (min / median / max) | %s | |
                | steps lost or wrong | %d of %d | 0 |
                | false drains in the same runs without the ramp | %d of %d | 0 |
                | steps lost or wrong without the ramp | %d of %d | 0 |
                | effective steps (done right ÷ all) | %.4f | 1 |

                """, seeds, ahead50, seeds, 100.0 * ahead50 / seeds, leads.length, seeds,
                leads.length == 0 ? "—" : leads[0] + " / " + leads[leads.length / 2] + " / " + leads[leads.length - 1],
                trend.lost, trend.steps, clean.drained, seeds, clean.lost, clean.steps,
                (trend.steps - trend.lost) / (double) trend.steps));
        json.append(String.format(Locale.ROOT, "\"trend\":{\"seeds\":%d,\"aheadBy50\":%d,\"drained\":%d,\"leads\":%s,\"lost\":%d,\"steps\":%d,"
                + "\"falseDrains\":%d,\"cleanLost\":%d},", seeds, ahead50, leads.length, Arrays.toString(leads), trend.lost, trend.steps,
                clean.drained, clean.lost));

        md.append("## Fail-slow (the scheduler's detector on seeded streams of 100 ms steps)\n\n");
        md.append("| noise σ | runs | slowdown from step 100 | flagged | within 20 steps | within 100 steps | delay median / p95 (steps) | flagged before the change |\n");
        md.append("|---:|---:|---:|---:|---:|---:|---|---:|\n");
        json.append("\"failSlow\":[");
        for (double sigma : new double[] {0.05, 0.10}) {
            for (double slow : new double[] {1.0, 1.1, 1.5, 2.0}) {
                int runs = slow == 1.0 ? 1000 : 200;
                List<Integer> delays = new ArrayList<>();
                int early = 0, flagged = 0;
                for (int s = 1; s <= runs; s++) {
                    int at = flaggedAt(steps(seed(s + (long) (slow * 1000) + (long) (sigma * 1e5), 0), 350, sigma, slow, 100));
                    if (at >= 0) {
                        flagged++;
                        if (slow == 1.0 || at < 100) {
                            early++;
                        } else {
                            delays.add(at - 100);
                        }
                    }
                }
                int[] d = delays.stream().mapToInt(Integer::intValue).sorted().toArray();
                long in20 = delays.stream().filter(x -> x <= 20).count(), in100 = delays.stream().filter(x -> x <= 100).count();
                md.append(String.format(Locale.ROOT, "| %.0f%% | %d | %s | %d | %s | %s | %s | %d |%n", sigma * 100, runs,
                        slow == 1.0 ? "none (clean)" : slow + "×", flagged, slow == 1.0 ? "—" : String.valueOf(in20),
                        slow == 1.0 ? "—" : String.valueOf(in100),
                        d.length == 0 ? "—" : d[d.length / 2] + " / " + d[(int) Math.min(d.length - 1, Math.ceil(d.length * 0.95) - 1)], early));
                json.append(String.format(Locale.ROOT, "{\"sigma\":%.2f,\"slow\":%.1f,\"runs\":%d,\"flagged\":%d,\"within20\":%d,\"within100\":%d,"
                        + "\"early\":%d},", sigma, slow, runs, flagged, in20, in100, early));
            }
        }
        json.setLength(json.length() - 1);
        json.append("],");
        groups(md, json);
        spares(md, json, Math.min(seeds, 20));
        json.setLength(json.length() - 1);
        json.append("}");
        Files.writeString(dir.resolve("results.md"), md);
        Files.writeString(dir.resolve("anticipate.json"), json + "\n");
        System.out.print(md);
    }

    private record Trend(List<Integer> leads, int drained, int lost, int steps) { }

    /** The trend scenario over seeds, with the ramp ({@code ramp}) or with its base error rate only. */
    private static Trend trend(int seeds, boolean ramp) {
        List<Integer> leads = new ArrayList<>();
        int drained = 0, lost = 0, steps = 0;
        for (int seed = 1; seed <= seeds; seed++) {
            String fault = "cpu:0=ce-trend:" + (ramp ? 100 : 1_000_000) + ",ce-ramp:200,seed:" + seed;
            Config config = Config.defaults().with(Config.BACKEND, "cpu,opencl").with(Config.FAULTS, fault).with(Config.DISPATCH, "pinned:cpu:0");
            try (KernelBridge kb = KernelBridge.open(config)) {
                if (kb.devices().stream().noneMatch(d -> d.backend().equals("opencl"))) {
                    throw new IllegalStateException("peer unavailable: no OpenCL device (ci/setup bench installs PoCL)");
                }
                AtomicInteger call = new AtomicInteger(), drainedAt = new AtomicInteger(-1);
                kb.subscribe(e -> {
                    if (e instanceof DispatchEvent.HealthChange h && h.device().equals("cpu:0") && !h.to().dispatchable()) {
                        drainedAt.compareAndSet(-1, call.get());
                    }
                });
                SplittableRandom r = new SplittableRandom(seed);
                float[] a = new float[N * N], b = new float[N * N];
                for (int i = 0; i < a.length; i++) {
                    a[i] = r.nextInt(9) - 4;
                    b[i] = r.nextInt(9) - 4;
                }
                float[] exact = product(a, b);
                Blas blas = kb.blas();
                for (int i = 1; i <= CALLS; i++) {
                    call.set(i);
                    float[] c = new float[N * N];
                    steps++;
                    try {
                        blas.sgemm("N", "N", N, N, N, 1f, a, N, b, N, 0f, c, N);
                        if (!Arrays.equals(exact, c)) {
                            lost++;
                        }
                    } catch (RuntimeException e) {
                        lost++;
                    }
                }
                if (drainedAt.get() > 0 && drainedAt.get() < HARD_FAULT) {
                    drained++;
                    leads.add(HARD_FAULT - drainedAt.get());
                } else if (!ramp && drainedAt.get() > 0) {
                    drained++;
                }
            }
        }
        return new Trend(leads, drained, lost, steps);
    }

    private static float[] product(float[] a, float[] b) {
        float[] c = new float[N * N];
        for (int j = 0; j < N; j++) {
            for (int p = 0; p < N; p++) {
                for (int i = 0; i < N; i++) {
                    c[i + j * N] += a[i + p * N] * b[p + j * N];
                }
            }
        }
        return c;
    }

    /** Step times of 100 ms: log-normal noise, spikes starting at 1% of steps, a slowdown from {@code change}. */
    static double[] steps(long seed, int count, double sigma, double slow, int change) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] t = new double[count];
        int spikeLeft = 0;
        double spike = 1;
        for (int i = 0; i < count; i++) {
            double u = 1 - r.nextDouble(), v = r.nextDouble();
            t[i] = STEP_NANOS * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
            if (spikeLeft == 0 && r.nextDouble() < 0.01) {
                spikeLeft = 1 + r.nextInt(3);
                spike = 1.5 + 1.5 * r.nextDouble();
            }
            if (spikeLeft > 0) {
                spikeLeft--;
                t[i] *= spike;
            }
            if (i >= change) {
                t[i] *= slow;
            }
        }
        return t;
    }

    private static final int SPARE_N = 96;

    /**
     * One hot-spare run: the call at which opencl:0 left service, calls after it run off the spare,
     * throughput after ÷ before (medians), the first call after the drain ÷ the median before.
     */
    private record SpareRun(int drainedAt, long offSpare, double throughput, double firstCall, boolean exact) { }

    /**
     * Hot spares, end to end: opencl:0 (pinned) under a corrected-error ramp, opencl:1 a spare (or, for
     * the peer, no spare: the work falls back to the best other device). 400 GEMMs of 96³ on small
     * integers, each checked; throughput is the median call time of the 100 calls before the drain over
     * that of the 100 after it.
     */
    private static SpareRun spare(long seed, boolean withSpare) {
        Config config = Config.defaults().with(Config.BACKEND, "cpu,opencl").with(Config.HEALTH_PROBE, "1h")
                .with(Config.FAULTS, "opencl:0=ce-trend:100,ce-ramp:200,seed:" + seed).with(Config.DISPATCH, "pinned:opencl:0");
        if (withSpare) {
            config = config.with(Config.SPARES, "opencl:1");
        }
        try (KernelBridge kb = KernelBridge.open(config)) {
            if (kb.devices().stream().filter(d -> d.backend().equals("opencl")).count() < 2) {
                throw new IllegalStateException("peer unavailable: hot spares need two OpenCL devices (POCL_DEVICES=\"pthread pthread\")");
            }
            AtomicInteger call = new AtomicInteger(), drainedAt = new AtomicInteger(-1);
            kb.subscribe(e -> {
                if (e instanceof DispatchEvent.HealthChange h && h.device().equals("opencl:0") && !h.to().dispatchable()) {
                    drainedAt.compareAndSet(-1, call.get());
                }
            });
            SplittableRandom r = new SplittableRandom(seed);
            int n = SPARE_N;
            float[] a = new float[n * n], b = new float[n * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextInt(9) - 4;
                b[i] = r.nextInt(9) - 4;
            }
            float[] exact = new float[n * n];
            for (int j = 0; j < n; j++) {
                for (int p = 0; p < n; p++) {
                    for (int i = 0; i < n; i++) {
                        exact[i + j * n] += a[i + p * n] * b[p + j * n];
                    }
                }
            }
            long[] nanos = new long[CALLS + 1];
            boolean ok = true;
            long cpuBefore = 0;
            for (int i = 1; i <= CALLS; i++) {
                call.set(i);
                if (drainedAt.get() < 0) {
                    cpuBefore = launches(kb, "cpu:0");
                }
                float[] c = new float[n * n];
                long t0 = System.nanoTime();
                kb.blas().sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
                nanos[i] = System.nanoTime() - t0;
                ok &= Arrays.equals(exact, c);
            }
            int d = drainedAt.get();
            long off = withSpare ? launches(kb, "cpu:0") - cpuBefore : 0;
            if (d <= 100 || d + 100 > CALLS) {
                return new SpareRun(d, off, Double.NaN, Double.NaN, ok);
            }
            long[] before = Arrays.copyOfRange(nanos, d - 100, d), after = Arrays.copyOfRange(nanos, d + 1, d + 101);
            Arrays.sort(before);
            Arrays.sort(after);
            // Steady throughput: the median call before the drain over the median after it (a VM's jitter
            // moves a mean of 100 calls by tens of per cent); and the first call after it, against the
            // median before: what stepping in cost.
            return new SpareRun(d, off, (double) before[50] / after[50], (double) nanos[d + 1] / before[50], ok);
        }
    }

    private static long launches(KernelBridge kb, String id) {
        return kb.metrics().devices().stream().filter(m -> m.device().equals(id)).mapToLong(dev.kernelbridge.DeviceMetrics::launches).sum();
    }

    private static void spares(StringBuilder md, StringBuilder json, int seeds) {
        md.append(String.format(Locale.ROOT, "%n## Hot spares (opencl:0 pinned under a corrected-error ramp; opencl:1 a spare; %d seeds each)%n%n", seeds));
        md.append("| | drained before the hard fault | calls after the drain run off the spare | throughput after ÷ before, medians of 100 calls (min / median / max over seeds) | first call after the drain ÷ the median before (median / max) | results exact |\n");
        md.append("|---|---:|---:|---|---|---:|\n");
        json.append("\"spares\":[");
        for (boolean withSpare : new boolean[] {true, false}) {
            int drained = 0, exact = 0;
            long off = 0;
            List<Double> ratios = new ArrayList<>(), firsts = new ArrayList<>();
            for (int seed = 1; seed <= seeds; seed++) {
                SpareRun run = spare(seed, withSpare);
                drained += run.drainedAt > 0 && run.drainedAt < HARD_FAULT ? 1 : 0;
                off += run.offSpare;
                exact += run.exact ? 1 : 0;
                if (!Double.isNaN(run.throughput)) {
                    ratios.add(run.throughput);
                    firsts.add(run.firstCall);
                }
            }
            double[] t = ratios.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] f = firsts.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            md.append(String.format(Locale.ROOT, "| %s | %d of %d | %s | %s | %s | %d of %d |%n", withSpare ? "spare opencl:1" : "no spare (the peer)",
                    drained, seeds, withSpare ? String.valueOf(off) : "—",
                    t.length == 0 ? "—" : String.format(Locale.ROOT, "%.2f / %.2f / %.2f", t[0], t[t.length / 2], t[t.length - 1]),
                    f.length == 0 ? "—" : String.format(Locale.ROOT, "%.1f / %.1f", f[f.length / 2], f[f.length - 1]), exact, seeds));
            json.append(String.format(Locale.ROOT, "{\"spare\":%b,\"seeds\":%d,\"drained\":%d,\"offSpare\":%d,\"throughput\":%s,\"firstCall\":%s,\"exact\":%d},",
                    withSpare, seeds, drained, off, Arrays.toString(t), Arrays.toString(f), exact));
        }
        json.setLength(json.length() - 1);
        json.append("],");
    }

    /**
     * A seed of its own for stream {@code stream} of run {@code run}, from a child generator (a gamma
     * of its own): SplittableRandom streams seeded 1 apart put their rare events on the same steps,
     * and seeds a multiple of its gamma apart give the same stream shifted.
     */
    static long seed(long run, int stream) {
        SplittableRandom r = new SplittableRandom(run);
        for (int i = 0; i < stream; i++) {
            r.split();
        }
        return r.split().nextLong();
    }

    private static final int MEMBERS = 8;

    /**
     * Groups of 8 (the ranks of a data-parallel job): each member's step time is a shared stream (σ 10%,
     * with spikes: a slow batch, a pause of the whole job) times its own (σ 2%, 5% or 10%, with spikes);
     * member 0 slows from step 100. Scored by {@link Stragglers}: against the median of its peers and
     * against itself. Reported: member 0 flagged within 20 and 100 steps, by its peers or by itself; any
     * other member flagged (a false flag); the same member's own times through the single-device test.
     */
    private static void groups(StringBuilder md, StringBuilder json) {
        md.append("\n## Fail-slow in a group (8 members scored against their peers; shared noise σ 10%, 100 ms steps)\n\n");
        md.append("| own noise σ | runs | member 0 slows from step 100 | flagged within 20 | within 100 | by its peers | false flags (other members, or before the change) | its own times alone, within 100 |\n");
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        json.append("\"groups\":[");
        for (double own : new double[] {0.02, 0.05, 0.10}) {
            for (double slow : new double[] {1.0, 1.1, 1.5, 2.0}) {
                int runs = slow == 1.0 ? 1000 : 200;
                int in20 = 0, in100 = 0, byPeers = 0, falseFlags = 0, alone100 = 0;
                for (int run = 1; run <= runs; run++) {
                    long base = run * 1_000L + (long) (slow * 100) + (long) (own * 1e4) * 1_000_000L;
                    double[] common = steps(seed(base, 0), 350, 0.10, 1, 350);
                    double[][] mine = new double[MEMBERS][];
                    for (int m = 0; m < MEMBERS; m++) {
                        mine[m] = steps(seed(base, m + 1), 350, own, m == 0 ? slow : 1, 100);
                    }
                    Stragglers g = new Stragglers(MEMBERS, 1e9);
                    SlowDetector alone = new SlowDetector(1e9);
                    int found = -1, aloneAt = -1;
                    boolean peers = false, wrong = false;
                    double[] t = new double[MEMBERS];
                    for (int step = 0; step < 350 && found < 0 && !wrong; step++) {
                        for (int m = 0; m < MEMBERS; m++) {
                            t[m] = common[step] / STEP_NANOS * mine[m][step];
                        }
                        if (aloneAt < 0 && alone.add(t[0]) != null) {
                            aloneAt = step;
                        }
                        for (Stragglers.Straggler x : g.step(t)) {
                            if (x.member() != 0 || slow == 1.0 || step < 100) {
                                wrong = true;
                            } else {
                                found = step;
                                peers = x.byPeers();
                            }
                        }
                    }
                    falseFlags += wrong ? 1 : 0;
                    if (found >= 0) {
                        in20 += found - 100 <= 20 ? 1 : 0;
                        in100 += found - 100 <= 100 ? 1 : 0;
                        byPeers += peers ? 1 : 0;
                    }
                    alone100 += aloneAt >= 100 && aloneAt - 100 <= 100 ? 1 : 0;
                }
                md.append(String.format(Locale.ROOT, "| %.0f%% | %d | %s | %s | %s | %s | %d | %s |%n", own * 100, runs,
                        slow == 1.0 ? "none (clean)" : slow + "×", slow == 1.0 ? "—" : String.valueOf(in20), slow == 1.0 ? "—" : String.valueOf(in100),
                        slow == 1.0 ? "—" : String.valueOf(byPeers), falseFlags, slow == 1.0 ? "—" : String.valueOf(alone100)));
                json.append(String.format(Locale.ROOT, "{\"ownSigma\":%.2f,\"sharedSigma\":0.10,\"slow\":%.1f,\"runs\":%d,\"within20\":%d,"
                        + "\"within100\":%d,\"byPeers\":%d,\"falseFlags\":%d,\"aloneWithin100\":%d},", own, slow, runs, in20, in100, byPeers,
                        falseFlags, alone100));
            }
        }
        json.setLength(json.length() - 1);
        json.append("],");
    }

    private static int flaggedAt(double[] t) {
        SlowDetector d = new SlowDetector(1e9); // the scheduler's lasting rule: a second
        for (int i = 0; i < t.length; i++) {
            if (d.add(t[i]) != null) {
                return i;
            }
        }
        return -1;
    }
}
