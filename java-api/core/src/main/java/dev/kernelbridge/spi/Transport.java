package dev.kernelbridge.spi;

/**
 * This process's membership in a distributed job: rank {@link #rank()} of {@link #size()}.
 *
 * <p>{@link #execute} runs one collective over host memory and returns when it is complete on this
 * process. It never waits past the deadline: it throws
 * {@link dev.kernelbridge.CollectiveTimeoutException} naming the ranks that did not take part, or
 * {@link dev.kernelbridge.CollectiveMismatchException} when the processes called different things —
 * detected before any data moves, so that nothing is corrupted. Calls come from one thread at a
 * time, in the same order on every process.
 *
 * <p>Each transport serves one group: {@link TransportProvider#open} returns a transport with
 * communication of its own (for MPI, duplicated communicators), so that the calls of two groups never
 * meet, whatever order their threads run in on each process.
 */
public interface Transport extends AutoCloseable {
    int rank();

    int size();

    /** The engine and how it runs, for logs and doctor: "Open MPI 4.1.4, thread level MULTIPLE". */
    String description();

    void execute(TransportCall call, long deadlineNanos);

    /**
     * Bytes of native memory this transport holds for calls that failed while the engine may still
     * write into them (a timed-out non-blocking MPI call): freed once the engine completes them, never
     * while it may not have. A metric ({@link dev.kernelbridge.Metrics#retiredTransportBytes()}).
     */
    default long retiredBytes() { return 0; }

    /** Ends the whole job after a failure this process cannot recover from, with {@code message}. */
    void abort(int exitCode, String message);

    /** Leaves the job. After close, the process cannot join again (MPI allows one init per process). */
    @Override
    void close();
}
