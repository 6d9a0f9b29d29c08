package dev.kernelbridge.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A fixed team of threads for one parallel region at a time: the caller plus {@code threads − 1}
 * daemon workers. Waiting spins for a short while, then parks — a pure spin collapses when another
 * process takes a core. When the team is busy with another caller's region, the new caller runs its
 * parts alone instead of queueing: no deadlock, and results do not depend on who ran a part.
 * Thread-safe.
 */
final class CpuWorkers implements AutoCloseable {
    private static final long SPIN_NANOS = 50_000;

    private final int threads;
    private final ReentrantLock team = new ReentrantLock();
    private final Thread[] workers;
    private volatile Region current;
    private volatile boolean closed;

    CpuWorkers(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Thread[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("kernelbridge-cpu-" + (i + 1)).unstarted(this::workLoop);
            workers[i].start();
        }
    }

    int threads() { return threads; }

    /** Runs {@code body.accept(part)} for every part in [0, parts) and returns when all are done. */
    void run(int parts, IntConsumer body) {
        if (parts <= 1 || workers.length == 0 || closed || !team.tryLock()) {
            for (int p = 0; p < parts; p++) {
                body.accept(p);
            }
            return;
        }
        try {
            Region region = new Region(parts, body, Thread.currentThread());
            current = region;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            region.work();
            region.awaitDone();
            current = null;
            region.rethrow();
        } finally {
            team.unlock();
        }
    }

    private void workLoop() {
        Region seen = null;
        while (!closed) {
            Region r = current;
            long start = System.nanoTime();
            while (r == null || r == seen) {
                if (closed) {
                    return;
                }
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
                r = current;
            }
            seen = r;
            r.work();
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }

    /** One parallel region: parts are claimed from a counter; the caller waits for the last one. */
    private static final class Region {
        private final int parts;
        private final IntConsumer body;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger done = new AtomicInteger();
        private volatile Throwable failure;

        Region(int parts, IntConsumer body, Thread caller) {
            this.parts = parts;
            this.body = body;
            this.caller = caller;
        }

        void work() {
            int p;
            while ((p = next.getAndIncrement()) < parts) {
                try {
                    body.accept(p);
                } catch (Throwable t) {
                    failure = t;
                }
                if (done.incrementAndGet() == parts) {
                    LockSupport.unpark(caller);
                }
            }
        }

        void awaitDone() {
            long start = System.nanoTime();
            while (done.get() < parts) {
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 1_000_000L);
                }
            }
        }

        void rethrow() {
            Throwable t = failure;
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
        }
    }
}
