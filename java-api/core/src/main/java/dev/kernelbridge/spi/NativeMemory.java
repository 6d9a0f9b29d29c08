package dev.kernelbridge.spi;

import dev.kernelbridge.Config;
import dev.kernelbridge.internal.GuardedArena;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Where KernelBridge's own native memory comes from: staging, scratch, per-call arenas, host mirrors.
 * Normally plain {@link Arena}s. With {@code kernelbridge.debug.guarded.memory=true} (a test mode,
 * read once per process) every allocation gets pages of its own between guard pages, ending at the
 * trailing guard, and is made inaccessible when its arena closes — never unmapped or reused — so that
 * a driver, MPI or our own code that touches it after it was freed, or past its end, crashes at once
 * instead of corrupting something later (Electric Fence's idea, through FFM). Thread-safe.
 */
public final class NativeMemory {
    private static final boolean GUARDED = Boolean.parseBoolean(Config.fromEnvironment().get(Config.GUARDED_MEMORY));

    private NativeMemory() { }

    /** An arena any thread may use and close (guarded in the test mode). */
    public static Arena shared() {
        return GUARDED ? new GuardedArena() : Arena.ofShared();
    }

    /** An arena of this thread (guarded in the test mode, and still confined, so confinement rules are tested too). */
    public static Arena confined() {
        return GUARDED ? new GuardedArena(true) : Arena.ofConfined();
    }

    /** Whether this process runs in the guarded test mode. */
    public static boolean guarded() {
        return GUARDED;
    }

    /**
     * Whether a driver may be handed {@code s}'s address for a whole native operation, also one that
     * goes on after the call that started it returns (an asynchronous copy, a raw-address binding such
     * as LWJGL's): FFM keeps an arena open only during a downcall that takes the segment itself. True
     * only for a native segment confined to the calling thread, which no other thread can close
     * meanwhile; a shared, automatic or heap segment must go through memory the operation owns,
     * filled or emptied with {@link #copyOfCallers}.
     */
    public static boolean onlyCallerCanFree(MemorySegment s) {
        return s.isNative() && s.isAccessibleBy(Thread.currentThread()) && !s.isAccessibleBy(NOT_THE_CALLER);
    }

    /** Any thread but the caller: never started, only asked about. */
    private static final Thread NOT_THE_CALLER = Thread.ofPlatform().unstarted(() -> { });

    /**
     * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)} between a caller's
     * segment and memory we own, which a concurrent close of the caller's arena cannot cut short
     * unnoticed: it throws IllegalStateException naming {@code argument}.
     */
    public static void copyOfCallers(MemorySegment from, long fromOffset, MemorySegment to, long toOffset, long bytes, String argument) {
        boolean interrupted = Thread.currentThread().isInterrupted();
        try {
            MemorySegment.copy(from, fromOffset, to, toOffset, bytes);
        } catch (IllegalStateException e) {
            if (!interrupted) {
                Thread.interrupted(); // HotSpot interrupts a thread whose access it stops for a closing arena: not the caller's interrupt
            }
            throw new IllegalStateException(argument + " was closed by another thread during the copy; it must stay open until the copy returns", e);
        }
    }
}
