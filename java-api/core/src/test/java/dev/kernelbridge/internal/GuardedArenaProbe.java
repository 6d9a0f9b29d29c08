package dev.kernelbridge.internal;

import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Run in a child JVM by GuardedArenaTest: touches memory the way a driver or MPI would, by raw
 * address, after it was freed ("after-close") or one byte past its end ("past-end"); in the guarded
 * mode the process must die there, before it prints "SURVIVED".
 */
public final class GuardedArenaProbe {
    private GuardedArenaProbe() { }

    public static void main(String[] args) {
        System.out.println("guarded=" + NativeMemory.guarded());
        System.out.flush();
        long size = 3 * 4096 + 5;
        Arena arena = NativeMemory.shared();
        MemorySegment s = arena.allocate(size, 1);
        s.fill((byte) 7);
        MemorySegment raw;
        if (args[0].equals("past-end")) {
            raw = MemorySegment.ofAddress(s.address() + size).reinterpret(1);  // one byte past the end, arena alive
        } else {
            raw = MemorySegment.ofAddress(s.address()).reinterpret(1);         // the first byte, after the free
            arena.close();
        }
        raw.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
        System.out.println("SURVIVED");
    }
}
