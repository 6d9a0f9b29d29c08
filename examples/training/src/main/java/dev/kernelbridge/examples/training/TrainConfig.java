package dev.kernelbridge.examples.training;

import java.nio.file.Path;
import java.util.List;

/**
 * One training run's settings, checked when built.
 *
 * @param devices      the in-process ranks' devices, one per rank (ignored under MPI, where {@code mpiDevice} is this process's)
 * @param globalBatch  samples per step over all ranks; each rank takes globalBatch / ranks of them
 * @param stopAfter    0, or the step after which the run ends as a crash would (only checkpoints remain)
 */
record TrainConfig(int steps, long seed, List<String> devices, boolean mpi, String mpiDevice, int globalBatch, int inputs,
                   int hidden, int hiddenLayers, int classes, double learningRate, Path checkpointDir, int checkpointEvery,
                   int stopAfter, boolean resume) {
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
