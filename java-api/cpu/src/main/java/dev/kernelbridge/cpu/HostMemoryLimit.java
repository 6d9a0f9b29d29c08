package dev.kernelbridge.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The largest single allocation the CPU device can hold: physical memory, lowered by what the
 * process is allowed (a cgroup v2 {@code memory.max}, the commit limit under strict overcommit).
 * Limits, not free memory: they do not change with what else the machine is doing, so neither do
 * the decisions made from them. Stateless.
 */
final class HostMemoryLimit {
    private HostMemoryLimit() { }

    static long largestAllocation(long physical) {
        long limit = physical > 0 ? physical : Long.MAX_VALUE;
        limit = Math.min(limit, cgroupLimit().orElse(Long.MAX_VALUE));
        limit = Math.min(limit, strictCommitLimit().orElse(Long.MAX_VALUE));
        return limit == Long.MAX_VALUE ? 0 : limit;
    }

    /** memory.max of this process's cgroup (v2), where one is set. */
    private static OptionalLong cgroupLimit() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
                if (line.startsWith("0::")) {
                    Path max = Path.of("/sys/fs/cgroup", line.substring(3), "memory.max");
                    if (Files.isReadable(max)) {
                        String v = Files.readString(max).trim();
                        return v.equals("max") ? OptionalLong.empty() : OptionalLong.of(Long.parseLong(v));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup v2 view: no limit from there
        }
        return OptionalLong.empty();
    }

    /** Under vm.overcommit_memory = 2 the kernel refuses commitments past CommitLimit. */
    private static OptionalLong strictCommitLimit() {
        try {
            if (!Files.readString(Path.of("/proc/sys/vm/overcommit_memory")).trim().equals("2")) {
                return OptionalLong.empty();
            }
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("CommitLimit:")) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: no limit from there
        }
        return OptionalLong.empty();
    }
}
