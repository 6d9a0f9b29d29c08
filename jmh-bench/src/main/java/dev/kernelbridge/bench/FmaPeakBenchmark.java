package dev.kernelbridge.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The F32 FMA peak of the machine as the JVM reaches it: 16 independent accumulators of the
 * preferred vector species on every core, no memory traffic. Throughput is summed over threads,
 * so the score is FLOP/s for the whole machine — the roof the GEMM charts draw.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Threads(Threads.MAX)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class FmaPeakBenchmark {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int STEPS = 4096;
    /** FLOPs per invocation: steps × 16 accumulators × lanes × 2 (multiply and add). */
    public static final int FLOPS = STEPS * 16 * 2 * 16;

    // Scalars, broadcast inside the method: a vector held in a field has no exact type for C2,
    // and its operations would not be intrinsified (the probe would measure boxing).
    private float multiplier = 0.999f, addend = 1e-3f;

    @Benchmark
    @OperationsPerInvocation(FLOPS)
    public float fma() {
        // FLOPS assumes 16 lanes; the report rescales by lanes/16.
        FloatVector a = FloatVector.broadcast(S, multiplier), b = FloatVector.broadcast(S, addend);
        FloatVector c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b;
        FloatVector c8 = b, c9 = b, ca = b, cb = b, cc = b, cd = b, ce = b, cf = b;
        for (int i = 0; i < STEPS; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); ca = ca.fma(a, b); cb = cb.fma(a, b);
            cc = cc.fma(a, b); cd = cd.fma(a, b); ce = ce.fma(a, b); cf = cf.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7)
                .add(c8).add(c9).add(ca).add(cb).add(cc).add(cd).add(ce).add(cf).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /** Lanes of the preferred float species on this machine (16 on AVX-512). */
    public static int lanes() {
        return S.length();
    }
}
