package dev.kernelbridge.internal.collective;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.CollectiveTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A reusable barrier for the ranks of one group, with a deadline on every wait. Waiting spins
 * briefly, then blocks. When a rank's deadline passes, the group breaks: every rank waiting now
 * or arriving later gets the same {@link CollectiveException}, naming the ranks that never came.
 * A broken rendezvous stays broken (the communicator is aborted).
 */
final class Rendezvous {
    private static final long SPIN_NANOS = 20_000;

    private final int parties;
    private final AtomicInteger arrived = new AtomicInteger();
    private final AtomicLongArray passedPhase;
    private final Object lock = new Object();
    private volatile long phase;
    private volatile CollectiveException broken;

    Rendezvous(int parties) {
        this.parties = parties;
        this.passedPhase = new AtomicLongArray(parties);
    }

    /**
     * Arrives for {@code rank} and waits for all ranks, at most until {@code deadlineNanos}
     * (System.nanoTime scale). {@code what} names the call in a timeout message.
     */
    void await(int rank, long sequence, String what, long deadlineNanos) {
        CollectiveException b = broken;
        if (b != null) {
            throw b;
        }
        long p = phase;
        passedPhase.set(rank, p + 1);
        if (arrived.incrementAndGet() == parties) {
            arrived.set(0);
            phase = p + 1;
            synchronized (lock) {
                lock.notifyAll();
            }
            return;
        }
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (phase == p && broken == null && System.nanoTime() < spinUntil) {
            Thread.onSpinWait();
        }
        synchronized (lock) {
            while (phase == p && broken == null) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    List<Integer> missing = new ArrayList<>();
                    for (int r = 0; r < parties; r++) {
                        if (passedPhase.get(r) <= p) {
                            missing.add(r);
                        }
                    }
                    broken = new CollectiveTimeoutException(sequence, missing,
                            what + " #" + sequence + ": ranks " + missing + " of " + parties + " did not arrive before the deadline (seen by rank " + rank + ")");
                    lock.notifyAll();
                    break;
                }
                try {
                    lock.wait(Math.max(1, left / 1_000_000), 0);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    abort(new CollectiveException(sequence, what + " #" + sequence + ": rank " + rank + " was interrupted"));
                }
            }
        }
        if (phase == p) {
            throw broken;
        }
    }

    /** Breaks the group with {@code cause} unless it is broken already; wakes every waiter. */
    void abort(CollectiveException cause) {
        synchronized (lock) {
            if (broken == null) {
                broken = cause;
            }
            lock.notifyAll();
        }
    }

    CollectiveException broken() { return broken; }
}
