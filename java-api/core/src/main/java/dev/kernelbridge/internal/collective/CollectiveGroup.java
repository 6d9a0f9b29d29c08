package dev.kernelbridge.internal.collective;

import dev.kernelbridge.CollectiveException;
import java.time.Duration;

/** The ranks a Communicator talks to: in one process ({@link InProcessGroup}) or across processes ({@link DistributedGroup}). */
public interface CollectiveGroup {
    /** Ranks in the whole group. */
    int size();

    /** Runs member {@code member}'s part of call number {@code sequence}; returns when its output is complete. */
    void execute(int member, long sequence, CollectiveRequest request, Duration timeout);

    /** Fails every later call with {@code cause}. */
    void abort(CollectiveException cause);
}
