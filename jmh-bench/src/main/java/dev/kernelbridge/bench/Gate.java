package dev.kernelbridge.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The regression gate: compares each figure's ratio to its peer against a stored baseline. A
 * figure regresses when its ratio drops by more than the combined noise of both runs
 * (√(e_baseline² + e_now²), from JMH's error estimates) and by more than {@code minEffect}
 * (relative) — so a noisy machine cannot fail the gate and a real slowdown cannot hide in it.
 * A peer that is not installed is reported as such, never as a regression.
 */
public final class Gate {
    public enum Status { OK, IMPROVED, REGRESSED, PEER_UNAVAILABLE, PEER_CHANGED, MISSING, NEW }

    /** A peer whose own speed moved by more than this (and beyond noise) makes its ratio incomparable. */
    static final double PEER_CHANGE = 0.10;

    public record Verdict(String name, double baselineRatio, double ratio, double change, double noise, Status status) { }

    private final double minEffect;

    public Gate(double minEffect) {
        this.minEffect = minEffect;
    }

    public List<Verdict> compare(List<Figure> baseline, List<Figure> now) {
        Map<String, Figure> current = new LinkedHashMap<>();
        now.forEach(f -> current.put(f.name(), f));
        List<Verdict> out = new ArrayList<>();
        for (Figure b : baseline) {
            Figure f = current.remove(b.name());
            if (f == null) {
                out.add(new Verdict(b.name(), b.ratio(), Double.NaN, Double.NaN, Double.NaN, Status.MISSING));
            } else if (!f.peerAvailable() || !b.peerAvailable()) {
                out.add(new Verdict(b.name(), b.ratio(), f.ratio(), Double.NaN, Double.NaN, Status.PEER_UNAVAILABLE));
            } else if (peerChanged(b, f)) {
                // The yardstick itself moved (another build or configuration of the peer): reported, not gated.
                out.add(new Verdict(b.name(), b.ratio(), f.ratio(), f.ratio() - b.ratio(), Double.NaN, Status.PEER_CHANGED));
            } else {
                double change = f.ratio() - b.ratio();
                double noise = Math.sqrt(square(b.ratioError()) + square(f.ratioError()));
                boolean beyondNoise = Math.abs(change) > noise;
                boolean beyondEffect = Math.abs(change) > minEffect * b.ratio();
                Status s = beyondNoise && beyondEffect ? (change < 0 ? Status.REGRESSED : Status.IMPROVED) : Status.OK;
                out.add(new Verdict(b.name(), b.ratio(), f.ratio(), change, noise, s));
            }
        }
        current.values().forEach(f -> out.add(new Verdict(f.name(), Double.NaN, f.ratio(), Double.NaN, f.ratioError(), Status.NEW)));
        return out;
    }

    static boolean peerChanged(Figure baseline, Figure now) {
        double change = Math.abs(now.peer() - baseline.peer());
        double noise = Math.sqrt(square(baseline.peerError()) + square(now.peerError()));
        return change > noise && change > PEER_CHANGE * baseline.peer();
    }

    public static boolean passes(List<Verdict> verdicts) {
        return verdicts.stream().noneMatch(v -> v.status() == Status.REGRESSED);
    }

    /** A Markdown table: what changed, by how much, against which noise. */
    public static String table(List<Verdict> verdicts) {
        StringBuilder t = new StringBuilder("| figure | baseline ratio | ratio | change | noise (±) | verdict |\n|---|---:|---:|---:|---:|---|\n");
        for (Verdict v : verdicts) {
            t.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s |%n", v.name(), num(v.baselineRatio()), num(v.ratio()),
                    Double.isNaN(v.change()) ? "" : String.format(Locale.ROOT, "%+.1f %%", 100 * v.change() / v.baselineRatio()),
                    num(v.noise()), switch (v.status()) {
                        case PEER_UNAVAILABLE -> "peer unavailable";
                        case PEER_CHANGED -> "peer's own speed changed: not gated";
                        default -> v.status().name().toLowerCase(Locale.ROOT);
                    }));
        }
        return t.toString();
    }

    private static String num(double x) {
        return Double.isNaN(x) ? "" : String.format(Locale.ROOT, "%.3f", x);
    }

    private static double square(double x) {
        return Double.isNaN(x) ? 0 : x * x;
    }
}
