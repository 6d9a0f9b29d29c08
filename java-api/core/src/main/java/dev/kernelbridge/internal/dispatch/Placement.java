package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;
import dev.kernelbridge.HealthState;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Which devices take a GEMM: the fastest by live throughput per shape class, the pieces of a split
 * in proportion to measured piece throughput, the next device for failed work. Thread-safe.
 */
final class Placement {
    private static final int EXPLORE_EVERY = 64;

    /** One piece of a job and the device it starts on. */
    record Part(HostGemm gemm, Node node) { }

    /** A finished piece of a split (its floating-point operations) and how long it took, for rebalancing. */
    record Piece(Node node, double flops, long nanos) { }

    private final List<Node> nodes;
    private final Map<Long, ClassStats> classes = new ConcurrentHashMap<>();
    private volatile LastStats last;
    /** The devices that hold each type, in bridge order (a device's types never change). */
    private final Map<DType, List<Node>> byType = new java.util.EnumMap<>(DType.class);

    Placement(List<Node> nodes) {
        this.nodes = List.copyOf(nodes);
        for (DType t : DType.values()) {
            byType.put(t, this.nodes.stream().filter(n -> n.spi.info().dtypes().contains(t)).toList());
        }
    }

    /** Per shape class: calls seen, and what splitting achieved. */
    private static final class ClassStats {
        final AtomicLong calls = new AtomicLong();
        final SplitChoice choice = new SplitChoice();
        final Map<String, Double> partGflops = new HashMap<>();
    }

    /** Serving devices (dispatchable, not a spare on standby) that hold {@code dtype}, restricted to {@code ids} when given, in bridge order. */
    List<Node> candidates(DType dtype, List<String> ids) {
        List<Node> typed = byType.get(dtype);
        if (ids.isEmpty() && allServing(typed)) {
            return typed; // the usual case, without a new list per call
        }
        List<Node> out = new ArrayList<>();
        for (Node n : typed) {
            if ((ids.isEmpty() || ids.contains(n.id)) && n.serving()) {
                out.add(n);
            }
        }
        return out;
    }

    private static boolean allServing(List<Node> nodes) {
        for (Node n : nodes) {
            if (!n.serving()) {
                return false;
            }
        }
        return true;
    }

    /**
     * The device with the best live throughput for this class; a device not measured yet is tried
     * first (while idle: a launch that shares its device measures nothing), and every
     * {@value #EXPLORE_EVERY}th call re-measures the stalest so the choice follows change.
     */
    Node fastest(List<Node> candidates, long cls) {
        if (candidates.size() <= 1) {
            return candidates.isEmpty() ? null : candidates.getFirst(); // nothing to choose or explore
        }
        long call = stats(cls).calls.incrementAndGet();
        for (Node n : candidates) {
            if (rate(n, cls) == 0 && n.busy.get() == 0) {
                return n; // measured only when it runs alone, so try it while it is idle
            }
        }
        if (call % EXPLORE_EVERY == 0) {
            return candidates.stream().min(Comparator.comparingLong(n -> n.health.lastMeasured(cls))).orElseThrow();
        }
        return best(candidates, cls);
    }

    static Node best(List<Node> candidates, long cls) {
        Node best = null;
        for (Node n : candidates) {
            if (best == null || rank(n, cls) > rank(best, cls)) {
                best = n;
            }
        }
        return best;
    }

    /** Healthy before degraded, then throughput. */
    static double rank(Node n, long cls) {
        return (n.health.state() == HealthState.HEALTHY ? 1e12 : 0) + rate(n, cls);
    }

    /** Measured throughput, else the tuning data's figure for the device, else 0 (unmeasured). */
    static double rate(Node n, long cls) {
        double live = n.health.gflops(cls);
        return live > 0 ? live : n.spi.expectedGflops(DType.values()[(int) (cls >>> 16)]);
    }

    /** The next device for failed work: healthy ones by throughput, then degraded ones, the CPU last. */
    Node next(DType dtype, Set<Node> tried, long cls) {
        Node best = null;
        for (Node n : candidates(dtype, List.of())) {
            if (tried.contains(n)) {
                continue;
            }
            if (best == null || (best.cpu && !n.cpu) || (best.cpu == n.cpu && rank(n, cls) > rank(best, cls))) {
                best = n;
            }
        }
        return best;
    }

    /**
     * One GEMM's rows, columns or batch items in proportion to each device's live throughput — or,
     * when splitting has not measured clearly faster than the best device alone (devices sharing
     * cores), the best device alone; {@link SplitChoice} states the rule.
     */
    List<Part> split(HostGemm job, List<Node> candidates, long cls, boolean always) {
        if (candidates.size() <= 1) {
            return List.of(new Part(job, candidates.isEmpty() ? null : candidates.getFirst()));
        }
        ClassStats s = stats(cls);
        long call = s.calls.incrementAndGet();
        if (always) {
            double[] weights = new double[candidates.size()];
            synchronized (s) {
                for (int i = 0; i < weights.length; i++) {
                    Node n = candidates.get(i);
                    double r = s.partGflops.getOrDefault(n.id, rate(n, cls));
                    weights[i] = r > 0 ? r : 1; // unmeasured devices start with equal shares
                }
            }
            double max = java.util.Arrays.stream(weights).max().orElse(1);
            for (int i = 0; i < weights.length; i++) {
                weights[i] = Math.max(weights[i], max / 20); // every device keeps a piece, however slow it measured
            }
            return cut(job, candidates, weights);
        }
        for (Node n : candidates) {
            if (rate(n, cls) == 0 && n.busy.get() == 0) {
                return List.of(new Part(job, n));
            }
        }
        Node best = best(candidates, cls);
        double[] weights = new double[candidates.size()];
        synchronized (s) {
            if (!s.choice.split(call, rate(best, cls))) {
                return List.of(new Part(job, best));
            }
            for (int i = 0; i < weights.length; i++) {
                Node n = candidates.get(i);
                double w = s.partGflops.getOrDefault(n.id, rate(n, cls));
                weights[i] = w > 0 ? w : 1; // not measured yet (it was busy): an equal share to start
            }
        }
        return cut(job, candidates, weights);
    }

    /** Pieces along the batch, or the longer of C's dimensions, in multiples that keep kernels efficient. */
    static List<Part> cut(HostGemm job, List<Node> nodes, double[] weights) {
        int kind;
        long total;
        if (job.batchCount() >= nodes.size() && job.batchCount() > 1) {
            kind = 0;
            total = job.batchCount();
        } else if (job.n() >= job.m()) {
            kind = 1;
            total = job.n();
        } else {
            kind = 2;
            total = job.m();
        }
        long align = kind == 0 ? 1 : total >= 64L * nodes.size() * 4 ? 64 : total >= 8L * nodes.size() ? 8 : 1;
        double sum = 0;
        for (double w : weights) {
            sum += w;
        }
        List<Part> parts = new ArrayList<>();
        long from = 0;
        double acc = 0;
        int n = nodes.size();
        boolean eachGetsOne = total >= (long) n * align;
        for (int i = 0; i < n; i++) {
            acc += weights[i];
            long to = i == n - 1 ? total : Math.min(total, Math.round(total * acc / sum / align) * align);
            if (eachGetsOne && i < n - 1) {
                // Rounding must not starve a device that was given a weight (a slow one measured on a busy
                // machine, first in line): each keeps at least one unit, and leaves one to each after it.
                to = Math.min(Math.max(to, from + align), total - (long) (n - 1 - i) * align);
            }
            if (to > from) {
                HostGemm g = kind == 0 ? job.batches(from, to) : kind == 1 ? job.columns(from, to) : job.rows(from, to);
                parts.add(new Part(g, nodes.get(i)));
                from = to;
            }
        }
        return parts;
    }

    /**
     * Whole groups of a grouped GEMM onto devices, largest first, each onto the device that will finish
     * it soonest: the work it holds already plus this group, at its rate. The rate is the device's piece
     * rate from earlier grouped splits of this class, else its live or expected throughput; a device
     * with none yet starts level with the mean of the others, so it gets work and a measurement.
     * Returns, per candidate, the indices of its groups (empty lists for devices given nothing).
     */
    List<List<Integer>> assignGroups(double[] flops, List<Node> candidates, long cls) {
        ClassStats s = stats(cls);
        s.calls.incrementAndGet();
        double[] rates = new double[candidates.size()];
        double known = 0;
        int counted = 0;
        synchronized (s) {
            for (int i = 0; i < rates.length; i++) {
                Node n = candidates.get(i);
                rates[i] = s.partGflops.getOrDefault(n.id, rate(n, cls));
                if (rates[i] > 0) {
                    known += rates[i];
                    counted++;
                }
            }
        }
        for (int i = 0; i < rates.length; i++) {
            if (rates[i] <= 0) {
                rates[i] = counted == 0 ? 1 : known / counted;
            }
        }
        Integer[] order = new Integer[flops.length];
        for (int g = 0; g < order.length; g++) {
            order[g] = g;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(flops[y], flops[x]));
        double[] finish = new double[candidates.size()];
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < candidates.size(); i++) {
            out.add(new ArrayList<>());
        }
        for (int g : order) {
            int pick = 0;
            for (int i = 1; i < rates.length; i++) {
                if (finish[i] + flops[g] / rates[i] < finish[pick] + flops[g] / rates[pick]) {
                    pick = i;
                }
            }
            finish[pick] += flops[g] / rates[pick];
            out.get(pick).add(g);
        }
        return out;
    }

    /** After a split: its throughput against the best device alone, and each device's piece rate for the next cut. */
    void recordSplit(long cls, double flops, long nanos, List<Piece> done) {
        ClassStats s = stats(cls);
        synchronized (s) {
            s.choice.record(flops / Math.max(1, nanos));
            for (Piece d : done) {
                double pg = d.flops() / Math.max(1, d.nanos());
                s.partGflops.merge(d.node().id, pg, (old, x) -> 0.5 * old + 0.5 * x);
            }
        }
    }

    private ClassStats stats(long cls) {
        // Calls come in runs of one shape: remember the last class and skip the boxed map lookup.
        LastStats last = this.last;
        if (last != null && last.cls() == cls) {
            return last.stats();
        }
        ClassStats s = classes.computeIfAbsent(cls, x -> new ClassStats());
        this.last = new LastStats(cls, s);
        return s;
    }

    private record LastStats(long cls, ClassStats stats) { }
}
