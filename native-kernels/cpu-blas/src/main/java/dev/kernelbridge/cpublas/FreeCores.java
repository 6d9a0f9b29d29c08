package dev.kernelbridge.cpublas;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How many of the machine's cores are free for a library's thread team right now: the cores less
 * the threads Linux has runnable besides the caller ({@code /proc/loadavg}'s fourth field), sampled at
 * most every {@value #SAMPLE_MILLIS} ms. A team larger than the free cores waits at its barriers for
 * threads the scheduler has put aside: OpenBLAS, whose idle threads spin, ran an n = 128 SGEMM 37×
 * slower beside one busy core here (2,463 µs against 67), while our own kernels, which hand out work
 * as threads come free, ran 2× slower. Thread-safe.
 */
final class FreeCores {
    private static final long SAMPLE_MILLIS = 10;
    private static final Path LOADAVG = Path.of("/proc/loadavg");
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    private static volatile long sampledAt = Long.MIN_VALUE;
    private static volatile int free = CORES;

    private FreeCores() { }

    /** Free cores now, at least 1 and at most {@code team}. */
    static int forTeamOf(int team) {
        long now = System.nanoTime();
        if (now - sampledAt > SAMPLE_MILLIS * 1_000_000) {
            sampledAt = now;
            free = sample();
        }
        return Math.clamp(free, 1, Math.max(1, team));
    }

    private static int sample() {
        try {
            String[] fields = Files.readString(LOADAVG).trim().split("\\s+");
            int runnable = Integer.parseInt(fields[3].substring(0, fields[3].indexOf('/')));
            return CORES - Math.max(0, runnable - 1); // the caller itself is runnable
        } catch (IOException | RuntimeException e) {
            return CORES; // not Linux, or an unexpected format: trust the configured team
        }
    }
}
