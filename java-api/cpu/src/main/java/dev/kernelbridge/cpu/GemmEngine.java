package dev.kernelbridge.cpu;

import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;

/** A checked column-major GEMM on host memory. */
interface GemmEngine {
    void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c);
}
