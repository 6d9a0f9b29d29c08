package dev.kernelbridge.examples.training;

import java.nio.file.Path;
import java.util.List;

/**
 * One training run's settings, checked when built.
 *
 * @param devices      the in-process ranks' devices, one per rank (ignored under MPI, where {@code mpiDevice} is this process's)
 * @param globalBatch  samples per step over all ranks; each rank takes globalBatch / ranks of them
 * @param stopAfter    0, or the step after which the run ends as a crash would (only checkpoints remain)
 * @param checkpointOnWarning with a checkpoint directory: a drain or warning from the pool's foresight rules for a rank's
 *                     device makes rank 0 checkpoint at the end of the step that hears it, and at the end of every step while
 *                     that device stays drained (so a crash that the warning foretold loses no finished step)
 * @param rebalanceEvery 0 (equal shards), or re-cut the global batch across the ranks every this many steps from their
 *                     measured compute time per sample (see {@link ShardCut}); the loss bits are the same either way
 */
record TrainConfig(int steps, long seed, List<String> devices, boolean mpi, String mpiDevice, int globalBatch, int inputs,
                   int hidden, int hiddenLayers, int classes, double learningRate, Path checkpointDir, int checkpointEvery,
                   int stopAfter, boolean resume, boolean checkpointOnWarning, int rebalanceEvery) {
    /** Re-cut every this many steps unless told otherwise: often enough to follow a device that slows down, rarely enough to average noise. */
    static final int DEFAULT_REBALANCE_EVERY = 5;

    /** Checkpoint on warning whenever checkpoints are written; shards follow measured speed. */
    TrainConfig(int steps, long seed, List<String> devices, boolean mpi, String mpiDevice, int globalBatch, int inputs,
                int hidden, int hiddenLayers, int classes, double learningRate, Path checkpointDir, int checkpointEvery,
                int stopAfter, boolean resume) {
        this(steps, seed, devices, mpi, mpiDevice, globalBatch, inputs, hidden, hiddenLayers, classes, learningRate, checkpointDir,
                checkpointEvery, stopAfter, resume, checkpointDir != null, DEFAULT_REBALANCE_EVERY);
    }

    TrainConfig withBalance(boolean checkpointOnWarning, int rebalanceEvery) {
        return new TrainConfig(steps, seed, devices, mpi, mpiDevice, globalBatch, inputs, hidden, hiddenLayers, classes, learningRate,
                checkpointDir, checkpointEvery, stopAfter, resume, checkpointOnWarning, rebalanceEvery);
    }

    TrainConfig withCheckpoints(Path dir, int stopAfter, boolean resume) {
        return new TrainConfig(steps, seed, devices, mpi, mpiDevice, globalBatch, inputs, hidden, hiddenLayers, classes, learningRate,
                dir, checkpointEvery, stopAfter, resume, dir != null, rebalanceEvery);
    }

    TrainConfig {
        devices = List.copyOf(devices);
        require(steps >= 1, "--steps must be >= 1, got " + steps);
        require(globalBatch >= 16, "--batch must be >= 16 (the gradient grid assumes a mean over at least 16 samples), got " + globalBatch);
        require(inputs >= 1 && hidden >= 1 && classes >= 2, "--inputs and --hidden must be >= 1 and --classes >= 2");
        require(hiddenLayers >= 1, "--layers must be >= 1, got " + hiddenLayers);
        require(learningRate > 0 && learningRate < 1, "--lr must be in (0, 1), got " + learningRate);
        require(checkpointEvery >= 1, "--checkpoint-every must be >= 1, got " + checkpointEvery);
        require(stopAfter >= 0 && stopAfter <= steps, "--stop-after must be between 1 and --steps (" + steps + "), got " + stopAfter);
        require(!resume || checkpointDir != null, "--resume needs --checkpoint DIR");
        require(rebalanceEvery >= 0, "--rebalance-every must be >= 0 (0: equal shards), got " + rebalanceEvery);
        require(!checkpointOnWarning || checkpointDir != null, "--checkpoint-on-warning needs --checkpoint DIR");
        require(mpi || !devices.isEmpty(), "name at least one rank device (--devices or --ranks/--device)");
    }

    int[] widths() {
        int[] w = new int[hiddenLayers + 2];
        w[0] = inputs;
        for (int i = 1; i <= hiddenLayers; i++) {
            w[i] = hidden;
        }
        w[hiddenLayers + 1] = classes;
        return w;
    }

    Checkpoint.Identity identity() {
        return new Checkpoint.Identity(seed, widths(), globalBatch, learningRate);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
