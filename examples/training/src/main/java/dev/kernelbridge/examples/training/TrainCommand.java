package dev.kernelbridge.examples.training;

import dev.kernelbridge.cli.Subcommand;
import java.io.PrintStream;

/** {@code kernelbridge train}: the trainer, added to the command line through its {@link Subcommand} SPI. */
public final class TrainCommand implements Subcommand {
    @Override
    public String name() { return "train"; }

    @Override
    public String usage() {
        return """
                [--steps N] [--devices ID,...] [--backend mpi] [--checkpoint DIR] [--resume] [--json] ...
                                                  the data-parallel training example (examples/training) on the pool""";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        return TrainMain.run(args, out, err);
    }
}
