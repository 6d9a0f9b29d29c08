package dev.kernelbridge.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * STREAM-like copy of 256 MiB on every core: the machine's memory bandwidth BW, counted as bytes
 * read plus bytes written (STREAM's convention), the limit the collectives are measured against.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class CopyBandwidthBenchmark {
    public static final long BYTES = 256L << 20;

    private Arena arena;
    private MemorySegment source, target;
    private ExecutorService pool;
    private int threads;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        source = arena.allocate(BYTES, 4096);
        target = arena.allocate(BYTES, 4096);
        source.fill((byte) 1);
        target.fill((byte) 2);
        threads = Runtime.getRuntime().availableProcessors();
        pool = Executors.newFixedThreadPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdown();
        arena.close();
    }

    @Benchmark
    public void copy() throws Exception {
        Future<?>[] parts = new Future<?>[threads];
        long slice = BYTES / threads;
        for (int t = 0; t < threads; t++) {
            long from = t * slice;
            parts[t] = pool.submit(() -> MemorySegment.copy(source, from, target, from, slice));
        }
        for (Future<?> f : parts) {
            f.get();
        }
    }
}
