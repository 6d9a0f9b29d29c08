package dev.kernelbridge.examples.training;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * Data-parallel training on the pool: every rank holds a replica of the model, computes the loss and
 * gradient of its shard of each global batch with GEMMs pinned to its device (failover allowed), the
 * ranks sum their gradients with one all-reduce per step (in rank order, so every rank gets the same
 * bits), and each applies the same Adam step. Ranks are threads of this process (one communicator per
 * device) or MPI processes (one each). The loop is agreed across ranks by construction: a fixed number
 * of steps, never a time budget.
 *
 * <p>Gradients are summed (not averaged): the loss is already a mean over the global batch, and with
 * every term exact ({@link FixedPoint}) the sum is the same for any number of ranks — so a run can be
 * resumed on another rank count with the same bits, which AVG's division by the rank count would break.
 */
final class Trainer {
    /** What the run reports as it goes; called on rank 0's thread. */
    interface Listener {
        void step(long step, long total, double loss, double accuracy, double samplesPerSecond, String health);

        /** A checkpoint was written after {@code step}; {@code why} says whether on schedule or on a warning (and which). */
        void checkpoint(long step, java.nio.file.Path file, String why);

        /** Hears nothing: for runs that only want the result. */
        Listener SILENT = new Listener() {
            @Override
            public void step(long step, long total, double loss, double accuracy, double samplesPerSecond, String health) { }

            @Override
            public void checkpoint(long step, java.nio.file.Path file, String why) { }
        };
    }

    record RankFigures(int rank, String device, double computeSeconds, double allReduceSeconds) { }

    /** @param reporter whether this process speaks for the job (always in-process; rank 0 under MPI) */
    record Result(boolean reporter, long startStep, long stepsRun, boolean stopped, double[] losses, double[] accuracies, int ranks,
                  double samplesPerSecond, double allReduceShare, long failovers, long canaryCatches, long quarantines,
                  long deviceFailures, long timeouts, double secondsLostToFaults, List<RankFigures> rankFigures,
                  Balance balance) {
        double firstLoss() { return losses.length == 0 ? Double.NaN : losses[0]; }

        double finalLoss() { return losses.length == 0 ? Double.NaN : losses[losses.length - 1]; }

        double finalAccuracy() { return accuracies.length == 0 ? Double.NaN : accuracies[accuracies.length - 1]; }
    }

    /**
     * How the work was shared and what the warnings did.
     *
     * @param finalCut           each rank's samples per step at the end
     * @param recuts             how often the cut changed
     * @param warningCheckpoints checkpoints written because of a warning (beyond the schedule)
     * @param firstWarningStep   the step (1-based) after which the first warning's checkpoint was written; 0 if none
     * @param stepSeconds        rank 0's wall time of each step run here
     */
    record Balance(int[] finalCut, long recuts, long warningCheckpoints, long firstWarningStep, double[] stepSeconds) { }

    /** A drain or warning the foresight rules raised for a device: how many so far, and the newest one's words. */
    private record Warning(long count, String why) { }

    private final KernelBridge bridge;
    private final TrainConfig config;
    private final Listener listener;
    private final SyntheticTask task;
    private final AtomicLong quarantines = new AtomicLong();
    private final AtomicLong nanosLost = new AtomicLong();
    private final java.util.concurrent.ConcurrentHashMap<String, Warning> warnings = new java.util.concurrent.ConcurrentHashMap<>();
    private double[] slowdown;
    private int[] fixedCut;

    Trainer(KernelBridge bridge, TrainConfig config, Listener listener) {
        this.bridge = bridge;
        this.config = config;
        this.listener = listener;
        this.task = new SyntheticTask(config.seed(), config.inputs(), config.classes());
    }

    /**
     * Makes rank {@code rank} a slower device for measurements: after its compute it waits
     * {@code factor - 1} times as long as the compute took, so its time grows with its shard as a
     * slower device's would (the fault plan's {@code slow} stretches each launch to a fixed time instead,
     * whatever its size). Waiting, not spinning, so the other ranks keep the cores.
     */
    Trainer slowRank(int rank, double factor) {
        if (slowdown == null) {
            slowdown = new double[Math.max(rank + 1, config.devices().size())];
        }
        slowdown[rank] = factor;
        return this;
    }

    /** Uses this cut of the global batch every step (tests: an uneven cut must give the same bits). */
    Trainer fixedCut(int... sizes) {
        if (java.util.Arrays.stream(sizes).sum() != config.globalBatch() || java.util.Arrays.stream(sizes).anyMatch(x -> x < 1)) {
            throw new IllegalArgumentException("a cut must give every rank at least one sample and add up to the global batch: "
                    + java.util.Arrays.toString(sizes));
        }
        fixedCut = sizes.clone();
        return this;
    }

    Result run() throws InterruptedException {
        new Mlp(config.widths(), config.seed()).requireExact(config.globalBatch());
        try (AutoCloseable subscription = bridge.subscribe(this::onEvent)) {
            return config.mpi() ? runMpiRank() : runInProcess();
        } catch (InterruptedException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void onEvent(DispatchEvent e) {
        if (e instanceof DispatchEvent.Foresight f && (f.action().equals("drain") || f.action().equals("warn"))) {
            String what = (f.action().equals("drain") ? "drained" : "warned") + " (" + f.rule() + "): " + f.why();
            warnings.merge(f.device(), new Warning(1, what), (a, b) -> new Warning(a.count() + 1, b.why()));
        } else if (e instanceof DispatchEvent.HealthChange h && h.to() == HealthState.QUARANTINED) {
            quarantines.incrementAndGet();
        } else if (e instanceof DispatchEvent.Failover f) {
            nanosLost.addAndGet(f.failedAttempt().toNanos());
        }
    }

    private Result runInProcess() throws InterruptedException {
        List<Device> devices = config.devices().stream().map(bridge::device).toList();
        requireDivisible(devices.size());
        List<Communicator> comms = bridge.communicators(devices);
        ExecutorService pool = Executors.newFixedThreadPool(comms.size(), r -> {
            Thread t = new Thread(r, "kernelbridge-train-rank");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<RankOutcome>> ranks = new ArrayList<>();
            for (Communicator c : comms) {
                ranks.add(pool.submit(() -> new Rank(c).train()));
            }
            List<RankOutcome> outcomes = new ArrayList<>();
            for (Future<RankOutcome> f : ranks) {
                outcomes.add(f.get());
            }
            var m = bridge.metrics();
            return outcomes.getFirst().result(true, outcomes.stream().map(o -> o.figures).toList(), m.failovers(), m.canaryMismatches(),
                    quarantines.get(), failures(m), timeouts(m), nanosLost.get() * 1e-9);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
            comms.forEach(Communicator::close);
        }
    }

    private Result runMpiRank() {
        Device device = config.mpiDevice() == null ? bridge.defaultDevice() : bridge.device(config.mpiDevice());
        Communicator comm = bridge.worldCommunicator(device);
        try {
            requireDivisible(comm.size());
            RankOutcome o = new Rank(comm).train();
            // Fault counts are per process: the job's are their sum (one more agreed collective).
            var m = bridge.metrics();
            double[] counts = allReduce(comm, ReduceOp.SUM, new double[] {m.failovers(), m.canaryMismatches(), quarantines.get(), failures(m), timeouts(m),
                    nanosLost.get() * 1e-9});
            return o.result(comm.rank() == 0, List.of(o.figures), (long) counts[0], (long) counts[1], (long) counts[2], (long) counts[3],
                    (long) counts[4], counts[5]);
        } finally {
            comm.close();
        }
    }

    private static long failures(dev.kernelbridge.Metrics m) {
        return m.devices().stream().mapToLong(d -> d.failures()).sum();
    }

    private static long timeouts(dev.kernelbridge.Metrics m) {
        return m.devices().stream().mapToLong(d -> d.timeouts()).sum();
    }

    /** A few host values combined across the ranks (one collective; every rank calls it at the same point). */
    private double[] allReduce(Communicator comm, ReduceOp op, double[] values) {
        try (DeviceBuffer b = bridge.allocate(comm.device(), DType.F64, values.length)) {
            b.copyFrom(values);
            comm.allReduce(b, b, values.length, op);
            return b.copyTo(new double[values.length]);
        }
    }

    private void requireDivisible(int ranks) {
        if (config.globalBatch() % ranks != 0) {
            throw new IllegalArgumentException("--batch (" + config.globalBatch() + ") must be a multiple of the number of ranks (" + ranks + ")");
        }
    }

    private record RankOutcome(long start, long stepsRun, boolean stopped, double[] losses, double[] accuracies, int ranks,
                               double seconds, RankFigures figures, long samples, Balance balance) {
        Result result(boolean reporter, List<RankFigures> figures, long failovers, long canary, long quarantines, long failures,
                      long timeouts, double lost) {
            double compute = figures.stream().mapToDouble(RankFigures::computeSeconds).sum();
            double reduce = figures.stream().mapToDouble(RankFigures::allReduceSeconds).sum();
            return new Result(reporter, start, stepsRun, stopped, losses, accuracies, ranks, seconds > 0 ? samples / seconds : 0,
                    compute + reduce > 0 ? reduce / (compute + reduce) : 0, failovers, canary, quarantines, failures, timeouts, lost, figures,
                    balance);
        }
    }

    /** One rank's replica and loop. */
    private final class Rank {
        private final Communicator comm;
        private final Blas blas;
        private final Mlp model;
        private final Adam adam;

        Rank(Communicator comm) {
            this.comm = comm;
            this.blas = bridge.blas(Dispatch.pinned(comm.device()));
            this.model = new Mlp(config.widths(), config.seed());
            this.adam = new Adam(model.parameters.length, config.learningRate());
        }

        /**
         * The loop. The gradient bucket carries, after the gradient, the loss and the correct count, one
         * slot per rank for its measured seconds per sample and one for "my device is warned"; each rank
         * fills only its own slots, so the SUM gives every rank the same measurements and flags, from which
         * each computes the same cut and the same checkpoint decision.
         */
        RankOutcome train() {
            int ranks = comm.size(), rank = comm.rank();
            int p = model.parameters.length, timeSlot = p + 2, warnSlot = p + 2 + ranks, slots = p + 2 + 2 * ranks;
            double[] losses = new double[config.steps()], accuracies = new double[config.steps()];
            long start = resume(losses, accuracies);
            ShardCut cut = fixedCut != null ? ShardCut.fixed(fixedCut) : new ShardCut(config.globalBatch(), ranks, config.rebalanceEvery());
            Mlp.Workspace ws = model.new Workspace(cut.size(rank));
            double[] gradient = new double[slots];
            long end = config.stopAfter() > 0 ? config.stopAfter() : config.steps();
            double[] stepSeconds = new double[(int) Math.max(0, end - start)];
            double slow = slowdown != null && rank < slowdown.length && slowdown[rank] > 1 ? slowdown[rank] : 1;
            boolean watch = config.checkpointOnWarning() && config.checkpointDir() != null;
            String device = comm.device().id();
            long warningsSeen = 0, warningCheckpoints = 0, firstWarningStep = 0, computeNanos = 0, reduceNanos = 0, t0 = System.nanoTime();
            boolean warnedBefore = false;
            try (DeviceBuffer bucket = bridge.allocate(comm.device(), DType.F64, slots)) {
                for (long step = start; step < end; step++) {
                    long c0 = System.nanoTime();
                    int shard = cut.size(rank);
                    if (ws.rows != shard) {
                        ws = model.new Workspace(shard);
                    }
                    long first = step * config.globalBatch() + cut.offset(rank);
                    for (int i = 0; i < shard; i++) {
                        ws.labels[i] = task.sample(first + i, ws.activations[0], i);
                    }
                    double[] lossAndCorrect = model.lossAndGradient(blas, ws, config.globalBatch(), gradient);
                    long c1 = System.nanoTime();
                    if (slow > 1) {
                        long until = c1 + Math.round((c1 - c0) * (slow - 1));
                        for (long wait; (wait = until - System.nanoTime()) > 0; ) {
                            java.util.concurrent.locks.LockSupport.parkNanos(wait);
                        }
                        c1 = System.nanoTime();
                    }
                    gradient[p] = lossAndCorrect[0];
                    gradient[p + 1] = lossAndCorrect[1];
                    Arrays.fill(gradient, timeSlot, slots, 0);
                    gradient[timeSlot + rank] = (c1 - c0) * 1e-9 / shard;
                    if (watch) {
                        Warning w = warnings.get(device);
                        boolean fresh = w != null && w.count() > warningsSeen;
                        warningsSeen = w == null ? 0 : w.count();
                        gradient[warnSlot + rank] = fresh || drainedNow(device) ? 1 : 0;
                    }
                    bucket.copyFrom(gradient);
                    comm.allReduce(bucket, bucket, slots, ReduceOp.SUM);
                    bucket.copyTo(gradient);
                    long c2 = System.nanoTime();
                    computeNanos += c1 - c0;
                    reduceNanos += c2 - c1;
                    adam.step(model.parameters, gradient);
                    losses[(int) step] = gradient[p] / config.globalBatch();
                    accuracies[(int) step] = gradient[p + 1] / config.globalBatch();
                    cut.measured(step, Arrays.copyOfRange(gradient, timeSlot, warnSlot));
                    boolean warned = false;
                    for (int r = 0; r < ranks; r++) {
                        warned |= gradient[warnSlot + r] > 0;
                    }
                    boolean scheduled = config.checkpointDir() != null && (step + 1) % config.checkpointEvery() == 0;
                    if (warned && firstWarningStep == 0) {
                        firstWarningStep = step + 1;
                    }
                    if (warned && !scheduled) {
                        warningCheckpoints++;
                    }
                    if (rank == 0) {
                        if (scheduled || warned) {
                            String why = warned ? "checkpoint on warning: " + warnedDevices(gradient, warnSlot, ranks)
                                    + (warnedBefore ? " (still drained: every step until it is back)" : "")
                                    : "every " + config.checkpointEvery() + " steps";
                            listener.checkpoint(step + 1, snapshot(step + 1, losses, accuracies).write(config.checkpointDir()), why);
                        }
                        double seconds = (System.nanoTime() - t0) * 1e-9;
                        stepSeconds[(int) (step - start)] = (System.nanoTime() - c0) * 1e-9;
                        listener.step(step + 1, config.steps(), losses[(int) step], accuracies[(int) step],
                                (step + 1 - start) * config.globalBatch() / Math.max(seconds, 1e-9), health());
                    }
                    warnedBefore = warned;
                }
            }
            double seconds = (System.nanoTime() - t0) * 1e-9;
            RankFigures figures = new RankFigures(rank, comm.device().id(), computeNanos * 1e-9, reduceNanos * 1e-9);
            Balance balance = new Balance(cut.sizes(), cut.recuts(), warningCheckpoints, firstWarningStep, stepSeconds);
            return new RankOutcome(start, end - start, end < config.steps(), Arrays.copyOf(losses, (int) end),
                    Arrays.copyOf(accuracies, (int) end), ranks, seconds, figures, (end - start) * config.globalBatch(), balance);
        }

        /** Whether the pool holds {@code device} out of service because a foresight rule drained it (read where the drain happens, on the launching thread). */
        private boolean drainedNow(String device) {
            return bridge.metrics().devices().stream().anyMatch(d -> d.device().equals(device) && d.state() == HealthState.QUARANTINED
                    && d.reason() != null && d.reason().startsWith("drained"));
        }

        /** The warned ranks' devices and why: in-process this process heard every event; under MPI it names the ranks. */
        private String warnedDevices(double[] gradient, int warnSlot, int ranks) {
            List<String> what = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                if (gradient[warnSlot + r] > 0) {
                    String id = config.mpi() ? null : config.devices().get(r);
                    Warning w = id == null ? null : warnings.get(id);
                    String text = id == null ? "rank " + r + "'s device" : id + " " + (w != null ? w.why() : "drained");
                    if (!what.contains(text)) {
                        what.add(text);
                    }
                }
            }
            return String.join("; ", what);
        }

        /** Loads the newest whole checkpoint if asked to; every rank must have found the same step. */
        private long resume(double[] losses, double[] accuracies) {
            long start = 0;
            if (config.resume()) {
                Optional<Checkpoint> found = Checkpoint.latest(config.checkpointDir(), config.identity());
                if (found.isPresent()) {
                    Checkpoint c = found.get();
                    if (c.step() > config.steps()) {
                        throw new IllegalArgumentException("the checkpoint is at step " + c.step() + ", beyond --steps " + config.steps());
                    }
                    System.arraycopy(c.parameters(), 0, model.parameters, 0, model.parameters.length);
                    System.arraycopy(c.adamM(), 0, adam.m, 0, adam.m.length);
                    System.arraycopy(c.adamV(), 0, adam.v, 0, adam.v.length);
                    adam.t = c.adamT();
                    System.arraycopy(c.losses(), 0, losses, 0, (int) c.step());
                    System.arraycopy(c.accuracies(), 0, accuracies, 0, (int) c.step());
                    start = c.step();
                }
            }
            double[] agreed = allReduce(comm, ReduceOp.MAX, new double[] {start, -start});
            if (agreed[0] != start || -agreed[1] != start) {
                throw new IllegalStateException("rank " + comm.rank() + " resumes from step " + start + " but other ranks from steps "
                        + (long) -agreed[1] + ".." + (long) agreed[0] + ": the ranks must see the same checkpoint directory");
            }
            return start;
        }

        private Checkpoint snapshot(long step, double[] losses, double[] accuracies) {
            return new Checkpoint(config.identity(), step, model.parameters.clone(), adam.m.clone(), adam.v.clone(), adam.t,
                    Arrays.copyOf(losses, (int) step), Arrays.copyOf(accuracies, (int) step));
        }
    }

    private String health() {
        return bridge.metrics().devices().stream().map(d -> d.device() + " " + d.state().name().toLowerCase(java.util.Locale.ROOT))
                .collect(Collectors.joining(", "));
    }
}
