package dev.kernelbridge.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * An arena for the guarded test mode ({@link dev.kernelbridge.spi.NativeMemory}): each allocation is
 * an anonymous mapping of its own — a guard page, the pages that hold it, a guard page — with the
 * segment ending where the trailing guard begins (as far as its alignment allows), so a read or write
 * past its end faults. Closing makes every mapping inaccessible and returns its pages to the system
 * (MADV_DONTNEED), but never unmaps it: the addresses are not reused, and a late access by a driver
 * or MPI faults at once. Linux only; shared (any thread may allocate and close) or confined.
 */
public final class GuardedArena implements Arena {
    private static final int PROT_NONE = 0, PROT_READ_WRITE = 3;
    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE = 4096;

    /** The libc calls, linked on first use of the test mode only. */
    private static final class Libc {
        static final MethodHandle MMAP, MPROTECT, MADVISE;

        static {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            MMAP = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                    FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
            MPROTECT = linker.downcallHandle(libc.find("mprotect").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
            MADVISE = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        }
    }

    private record Region(MemorySegment base, long bytes) { }

    /** Owns the segments' lifetime and their confinement: Java access ends when it closes. */
    private final Arena holder;
    /** The thread a confined arena belongs to; null when shared. */
    private final Thread owner;

    /** A guarded arena any thread may use and close. */
    public GuardedArena() {
        this(false);
    }

    /** {@code confined}: its segments belong to the creating thread, as {@link Arena#ofConfined()}'s do. */
    public GuardedArena(boolean confined) {
        holder = confined ? Arena.ofConfined() : Arena.ofShared();
        owner = confined ? Thread.currentThread() : null;
    }
    private final List<Region> regions = new ArrayList<>();

    @Override
    public synchronized MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must be >= 0, got " + byteSize);
        }
        if (byteAlignment <= 0 || Long.bitCount(byteAlignment) != 1) {
            throw new IllegalArgumentException("byteAlignment must be a power of two, got " + byteAlignment);
        }
        if (!holder.scope().isAlive()) {
            throw new IllegalStateException("Already closed");
        }
        if (owner != null && owner != Thread.currentThread()) {
            throw new WrongThreadException("this confined arena belongs to " + owner);
        }
        long usable = roundUp(byteSize + byteAlignment - 1, PAGE);
        long total = usable + 2 * PAGE;
        try {
            MemorySegment base = (MemorySegment) Libc.MMAP.invokeExact(MemorySegment.NULL, total, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (base.address() == -1L) {
                throw new OutOfMemoryError("mmap of " + total + " bytes failed (guarded memory)");
            }
            regions.add(new Region(base, total));
            long bodyStart = base.address() + PAGE;
            check((int) Libc.MPROTECT.invokeExact(MemorySegment.ofAddress(bodyStart), usable, PROT_READ_WRITE), "mprotect");
            long start = (bodyStart + usable - byteSize) & -byteAlignment;
            return MemorySegment.ofAddress(start).reinterpret(byteSize, holder, null);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("guarded allocation failed", t);
        }
    }

    @Override
    public MemorySegment.Scope scope() {
        return holder.scope();
    }

    @Override
    public synchronized void close() {
        holder.close(); // first: Java access ends (and a second close throws, as Arena says)
        try {
            for (Region r : regions) {
                check((int) Libc.MADVISE.invokeExact(r.base(), r.bytes(), MADV_DONTNEED), "madvise");
                check((int) Libc.MPROTECT.invokeExact(r.base(), r.bytes(), PROT_NONE), "mprotect");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("guarded free failed", t);
        }
        regions.clear();
    }

    private static void check(int result, String call) {
        if (result != 0) {
            throw new IllegalStateException(call + " failed (guarded memory)");
        }
    }

    private static long roundUp(long v, long to) {
        return Math.max(to, (v + to - 1) / to * to);
    }
}
