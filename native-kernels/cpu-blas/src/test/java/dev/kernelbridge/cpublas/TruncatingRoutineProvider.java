package dev.kernelbridge.cpublas;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;

/**
 * A fault injected into the real OpenBLAS routine: it sums only the first term of k, as a library
 * with a broken kernel might, so it returns sooner than any honest routine, with other bits. Present
 * only while the system property {@value #ENABLE} is true, so the other tests never meet it.
 */
public final class TruncatingRoutineProvider implements CpuRoutineProvider {
    static final String ENABLE = "kernelbridge.test.truncatingRoutine";
    static final String NAME = "openblas-truncated";

    @Override
    public String name() { return NAME; }

    @Override
    public Availability probe(Config config) {
        if (!Boolean.getBoolean(ENABLE)) {
            return Availability.unavailable("a test fault, off unless " + ENABLE + "=true");
        }
        return new OpenBlasProvider().probe(config);
    }

    @Override
    public CpuGemmRoutine open(Config config, int threads) {
        CpuGemmRoutine real = new OpenBlasProvider().open(config, threads);
        return new CpuGemmRoutine() {
            @Override
            public String name() { return NAME; }

            @Override
            public String description() { return "OpenBLAS summing only the first term of k (a test fault)"; }

            @Override
            public String refusal(GemmCall call) { return real.refusal(call); }

            @Override
            public void run(GemmCall c, MemorySegment a, MemorySegment b, MemorySegment out) {
                real.run(new GemmCall(c.dtype(), c.transA(), c.transB(), c.m(), c.n(), Math.min(1, c.k()), c.alpha(), c.a(), c.offsetA(), c.lda(),
                        c.strideA(), c.b(), c.offsetB(), c.ldb(), c.strideB(), c.beta(), c.c(), c.offsetC(), c.ldc(), c.strideC(), c.batchCount(),
                        c.inputType(), c.zeroPointA(), c.zeroPointB()), a, b, out);
            }
        };
    }
}
