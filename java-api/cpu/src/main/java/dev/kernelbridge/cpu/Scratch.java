package dev.kernelbridge.cpu;

import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Packing space of one GEMM worker. Pooled rather than thread-local, so that a thousand virtual
 * threads cost only as many scratches as run at once. Arrays grow to the largest shape seen.
 */
final class Scratch {
    private static final ConcurrentLinkedDeque<Scratch> POOL = new ConcurrentLinkedDeque<>();
    /**
     * A slot per thread-id stripe in front of the pool: one atomic exchange instead of the deque's
     * node churn on every small GEMM. Collisions only fall through to the pool.
     */
    private static final int SLOTS = Integer.highestOneBit(Math.max(8, Runtime.getRuntime().availableProcessors() * 4) * 2 - 1);
    private static final AtomicReferenceArray<Scratch> CACHE = new AtomicReferenceArray<>(SLOTS);

    float[] floatA = new float[0], floatB = new float[0], floatStrip = new float[0], floatColumn = new float[0];
    double[] doubleA = new double[0], doubleB = new double[0], doubleStrip = new double[0], doubleColumn = new double[0];

    int[] intColumn = new int[0];

    static Scratch acquire() {
        Scratch s = CACHE.getAndSet(slot(), null);
        if (s == null) {
            s = POOL.pollFirst();
        }
        return s != null ? s : new Scratch();
    }

    static void release(Scratch s) {
        if (!CACHE.compareAndSet(slot(), null, s)) {
            POOL.offerFirst(s);
        }
    }

    private static int slot() {
        return (int) Thread.currentThread().threadId() & (SLOTS - 1);
    }

    float[] floatA(int size) {
        if (floatA.length < size) {
            floatA = new float[size];
        }
        return floatA;
    }

    float[] floatB(int size) {
        if (floatB.length < size) {
            floatB = new float[size];
        }
        return floatB;
    }

    float[] floatStrip(int size) {
        if (floatStrip.length < size) {
            floatStrip = new float[size];
        }
        return floatStrip;
    }

    float[] floatColumn(int size) {
        if (floatColumn.length < size) {
            floatColumn = new float[size];
        }
        return floatColumn;
    }

    int[] intColumn(int size) {
        if (intColumn.length < size) {
            intColumn = new int[size];
        }
        return intColumn;
    }

    double[] doubleColumn(int size) {
        if (doubleColumn.length < size) {
            doubleColumn = new double[size];
        }
        return doubleColumn;
    }

    double[] doubleA(int size) {
        if (doubleA.length < size) {
            doubleA = new double[size];
        }
        return doubleA;
    }

    double[] doubleB(int size) {
        if (doubleB.length < size) {
            doubleB = new double[size];
        }
        return doubleB;
    }

    double[] doubleStrip(int size) {
        if (doubleStrip.length < size) {
            doubleStrip = new double[size];
        }
        return doubleStrip;
    }
}
