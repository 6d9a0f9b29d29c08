package dev.kernelbridge.cli;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Device;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.examples.moe.MoeLayer;
import dev.kernelbridge.examples.moe.MoeReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

/**
 * The {@code moe} job: builds a {@link MoeLayer} on every rank, runs one forward pass (checked against
 * {@link MoeReference} with --verify), warms up and times forward passes. Every loop that issues
 * collectives runs the same number of rounds on every rank (a fixed count, or the voted warm-up of
 * {@link AllReduceRun#agreedWarmUp}); a pass's time is the slowest rank's, all-reduced after the loop.
 */
final class MoeRun {
    record Result(MoeLayer.Shape shape, int ranks, List<String> devices, double seconds, WarmUp.Spread spread, int runs,
                  long[] tokensPerExpert, Boolean verified, double worstErrorOverBound) {
        double gflops() { return seconds > 0 ? shape.flops() / seconds * 1e-9 : 0; }
    }

    private MoeRun() { }

    /** In-process ranks, rank r on {@code devices.get(r)}. */
    static Result run(KernelBridge bridge, List<Device> devices, MoeLayer.Shape shape, int iterations, boolean verify, Progress progress) {
        List<Communicator> comms = bridge.communicators(devices);
        try {
            return runOn(bridge, comms, shape, iterations, verify, progress);
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    /** This process's ranks {@code comms} of a group that may span processes; the result describes the whole group. */
    static Result runOn(KernelBridge bridge, List<Communicator> comms, MoeLayer.Shape shape, int iterations, boolean verify, Progress progress) {
        int ranks = comms.getFirst().size();
        try (ExecutorService threads = Executors.newFixedThreadPool(comms.size())) {
            progress.step(0, iterations, "making the weights");
            List<MoeLayer> layers = onEveryRank(threads, comms, c -> new MoeLayer(bridge, c, shape));
            try {
                List<MoeLayer.Output> first = onEveryRank(threads, layers, MoeLayer::forward);
                Boolean verified = null;
                double worst = Double.NaN;
                if (verify) {
                    progress.step(0, iterations, "checking against the F64 host reference");
                    List<Double> mine = new ArrayList<>();
                    for (int i = 0; i < layers.size(); i++) {
                        MoeLayer l = layers.get(i);
                        mine.add(MoeReference.check(shape, l.firstToken(), l.tokenCount(), first.get(i).y()).worstErrorOverBound());
                    }
                    worst = AllReduceRun.maxOverRanks(bridge, comms, new double[] {mine.stream().mapToDouble(Double::doubleValue).max().orElseThrow()})[0];
                    verified = worst <= 1;
                }
                Runnable pass = () -> onEveryRank(threads, layers, MoeLayer::forward);
                AllReduceRun.agreedWarmUp(bridge, comms, pass);
                // As the all-reduce job: each rank's own thread runs the agreed number of passes back to back,
                // timing each on its own clock; a pass's time is then the slowest rank's.
                MoeLayer lead = layers.getFirst();
                List<double[]> perRank = onEveryRank(threads, layers, layer -> {
                    double[] t = new double[iterations];
                    for (int i = 0; i < iterations; i++) {
                        if (layer == lead) {
                            progress.step(i + 1, iterations, shape.tokens() + " tokens x " + ranks + " ranks");
                        }
                        long t0 = System.nanoTime();
                        layer.forward();
                        t[i] = (System.nanoTime() - t0) * 1e-9;
                    }
                    return t;
                });
                double[] slowest = new double[iterations];
                for (double[] t : perRank) {
                    for (int i = 0; i < iterations; i++) {
                        slowest[i] = Math.max(slowest[i], t[i]);
                    }
                }
                double[] times = AllReduceRun.maxOverRanks(bridge, comms, slowest);
                WarmUp.Spread spread = WarmUp.Spread.of(times);
                long[] perExpert = new long[shape.experts()];
                for (long[] row : first.getFirst().counts()) {
                    for (int e = 0; e < perExpert.length; e++) {
                        perExpert[e] += row[e];
                    }
                }
                List<String> devices = comms.stream().map(c -> c.device().id()).toList();
                return new Result(shape, ranks, devices, spread.median(), spread, iterations, perExpert, verified, worst);
            } finally {
                layers.forEach(MoeLayer::close);
            }
        }
    }

    /** {@code work} on every local rank at once, each on its own thread (collectives wait for every rank). */
    private static <T, R> List<R> onEveryRank(ExecutorService threads, List<T> ranks, Function<T, R> work) {
        List<Future<R>> running = new ArrayList<>();
        for (T r : ranks) {
            running.add(threads.submit(() -> work.apply(r)));
        }
        List<R> results = new ArrayList<>();
        try {
            for (Future<R> f : running) {
                results.add(f.get());
            }
        } catch (ExecutionException e) {
            running.forEach(f -> f.cancel(true));
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        return results;
    }
}
