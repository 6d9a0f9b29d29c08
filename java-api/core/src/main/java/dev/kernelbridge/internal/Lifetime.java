package dev.kernelbridge.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Use counting for things that can be closed while operations run on them (the bridge, buffers).
 * An operation {@link #acquire}s before it touches the resource and {@link #release}s after, possibly
 * on another thread. {@link #close()} refuses new operations at once, waits for those in flight, and
 * returns true to exactly one caller, who then frees the resource. Lock-free on the operation path.
 */
public final class Lifetime {
    private static final long CLOSED = 1L << 62;

    private final String what;
    private final AtomicLong state = new AtomicLong();
    private volatile Thread closer;

    public Lifetime(String what) {
        this.what = what;
    }

    /** Registers one operation; throws IllegalStateException naming the resource if it is closed. */
    public void acquire() {
        long s;
        do {
            s = state.get();
            if ((s & CLOSED) != 0) {
                throw new IllegalStateException(what + " is closed");
            }
        } while (!state.compareAndSet(s, s + 1));
    }

    /**
     * Acquires all, in order, or none: when one is closed the ones already taken are released and
     * the IllegalStateException propagates. The returned action releases them all, once.
     */
    public static Runnable acquireAll(Lifetime... lifetimes) {
        int taken = 0;
        try {
            for (; taken < lifetimes.length; taken++) {
                lifetimes[taken].acquire();
            }
        } catch (RuntimeException e) {
            for (int i = taken - 1; i >= 0; i--) {
                lifetimes[i].release();
            }
            throw e;
        }
        java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (released.compareAndSet(false, true)) {
                for (int i = lifetimes.length - 1; i >= 0; i--) {
                    lifetimes[i].release();
                }
            }
        };
    }

    public void release() {
        long s = state.decrementAndGet();
        if (s == CLOSED) {
            Thread t = closer;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /** Marks closed and waits for operations in flight. True for the one caller that closed it. */
    public boolean close() {
        long s;
        do {
            s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
        } while (!state.compareAndSet(s, s | CLOSED));
        closer = Thread.currentThread();
        while (state.get() != CLOSED) {
            LockSupport.parkNanos(this, 1_000_000L);
        }
        closer = null;
        return true;
    }

    @Override
    public String toString() { return what; }
}
