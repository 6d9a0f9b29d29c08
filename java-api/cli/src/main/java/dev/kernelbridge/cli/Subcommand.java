package dev.kernelbridge.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * A command another module adds to {@code kernelbridge} (the training example adds {@code train}),
 * found through {@link ServiceLoader} on the class path: a client of the CLI, as the CLI is a client
 * of the API, so the CLI need not depend on it (the training example's tests need the OpenCL and MPI
 * backends, whose own tests run the CLI: a dependency the other way would be a cycle). Implementations
 * are stateless; {@link #run} is called once per process.
 */
public interface Subcommand {
    /** The word after {@code kernelbridge}. */
    String name();

    /** Its usage: options on the first line, then what it does, as the built-in commands show theirs. */
    String usage();

    /** Runs with the arguments after the name; returns the exit code (0 success, 1 failure, 2 bad arguments). */
    int run(String[] args, PrintStream out, PrintStream err);

    /** Every subcommand on the class path, by name. */
    static List<Subcommand> all() {
        List<Subcommand> found = new ArrayList<>();
        ServiceLoader.load(Subcommand.class, Subcommand.class.getClassLoader()).forEach(found::add);
        found.sort(Comparator.comparing(Subcommand::name));
        return found;
    }
}
