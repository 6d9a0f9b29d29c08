package dev.kernelbridge.opencl;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Child JVM of {@link CallerMemoryCopyTest}, in the guarded memory mode: copies between an OpenCL
 * buffer and a caller's shared native segment while another thread closes the caller's arena. A
 * driver that still reads or writes the segment after the close touches a guard-protected page and
 * the JVM dies with SIGSEGV; the fixed copy either completes or throws. Prints what happened, exits 0.
 */
public final class CallerMemoryCopyProbe {
    private CallerMemoryCopyProbe() { }

    public static void main(String[] args) throws Exception {
        if (!NativeMemory.guarded()) {
            throw new IllegalStateException("run with -Dkernelbridge.debug.guarded.memory=true");
        }
        int rounds = Integer.parseInt(args[0]);
        long bytes = 64L << 20;
        int completed = 0, cut = 0;
        try (KernelBridge bridge = KernelBridge.open(Config.fromEnvironment().with(Config.BACKEND, "opencl"));
             DeviceBuffer buffer = bridge.allocate(bridge.device("opencl:0"), DType.F32, bytes / 4)) {
            for (int round = 0; round < rounds; round++) {
                Arena arena = NativeMemory.shared();
                MemorySegment caller = arena.allocate(bytes, 64);
                caller.fill((byte) round);
                CountDownLatch go = new CountDownLatch(1);
                long delayNanos = ThreadLocalRandom.current().nextLong(4_000_000);
                Thread closer = Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        long until = System.nanoTime() + delayNanos;
                        while (System.nanoTime() < until) {
                            Thread.onSpinWait();
                        }
                        arena.close();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                go.countDown();
                try {
                    if (round % 2 == 0) {
                        buffer.copyFrom(0, caller);
                    } else {
                        buffer.copyTo(0, caller);
                    }
                    completed++;
                } catch (IllegalStateException e) {
                    cut++;
                    if (Thread.currentThread().isInterrupted()) {
                        throw new AssertionError("the refused copy left the caller's thread interrupted", e);
                    }
                    if (!e.getMessage().contains("must stay open") && !e.getMessage().contains("is closed")) {
                        throw new AssertionError("the message must say what went wrong", e);
                    }
                }
                closer.join();
            }
        }
        System.out.println("survived " + rounds + " rounds: " + completed + " copies completed, " + cut + " refused or cut short");
    }
}
