package dev.kernelbridge.internal.cpu;

import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Packing space of one GEMM worker. Pooled rather than thread-local, so that a thousand virtual
 * threads cost only as many scratches as run at once. Arrays grow to the largest shape seen.
 */
final class Scratch {
    private static final ConcurrentLinkedDeque<Scratch> POOL = new ConcurrentLinkedDeque<>();

    float[] floatA = new float[0], floatB = new float[0], floatTile = new float[0];
    double[] doubleA = new double[0], doubleB = new double[0], doubleTile = new double[0];

    static Scratch acquire() {
        Scratch s = POOL.pollFirst();
        return s != null ? s : new Scratch();
    }

    static void release(Scratch s) {
        POOL.offerFirst(s);
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

    float[] floatTile(int size) {
        if (floatTile.length < size) {
            floatTile = new float[size];
        }
        return floatTile;
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

    double[] doubleTile(int size) {
        if (doubleTile.length < size) {
            doubleTile = new double[size];
        }
        return doubleTile;
    }
}
