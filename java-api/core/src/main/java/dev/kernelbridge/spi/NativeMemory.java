package dev.kernelbridge.spi;

import dev.kernelbridge.Config;
import dev.kernelbridge.internal.GuardedArena;
import java.lang.foreign.Arena;

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

    /** An arena of this thread (in the test mode a guarded one, which any thread may use). */
    public static Arena confined() {
        return GUARDED ? new GuardedArena() : Arena.ofConfined();
    }

    /** Whether this process runs in the guarded test mode. */
    public static boolean guarded() {
        return GUARDED;
    }
}
