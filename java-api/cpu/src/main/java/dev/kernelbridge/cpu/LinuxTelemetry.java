package dev.kernelbridge.cpu;

import dev.kernelbridge.DeviceTelemetry;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The CPU's own signs of trouble, as Linux shows them to any user (no root): the memory
 * controllers' corrected and uncorrected error counts (EDAC), the cores' thermal throttling counts
 * (Intel's {@code thermal_throttle}), and the hottest temperature sensor. What a machine does not
 * expose (a VM has no EDAC, AMD no throttle counters) stays UNKNOWN. Read at most once a second:
 * a machine with hundreds of cores has hundreds of files to read. Thread-safe.
 */
final class LinuxTelemetry {
    private static final long REFRESH_NANOS = 1_000_000_000L;

    private final Path sys;
    private volatile DeviceTelemetry last;
    private volatile long readAt;

    LinuxTelemetry(Path sys) {
        this.sys = sys;
    }

    static LinuxTelemetry ofThisMachine() {
        return new LinuxTelemetry(Path.of("/sys"));
    }

    DeviceTelemetry read() {
        long now = System.nanoTime();
        DeviceTelemetry t = last;
        if (t != null && now - readAt < REFRESH_NANOS) {
            return t;
        }
        t = new DeviceTelemetry(sum("devices/system/edac/mc", "mc*", "ce_count"), sum("devices/system/edac/mc", "mc*", "ue_count"),
                DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN, throttles(), DeviceTelemetry.UNKNOWN, DeviceTelemetry.UNKNOWN,
                hottest(), "linux sysfs");
        last = t;
        readAt = now;
        return t;
    }

    private long throttles() {
        long core = sum("devices/system/cpu", "cpu[0-9]*", "thermal_throttle/core_throttle_count");
        long pkg = sum("devices/system/cpu", "cpu[0-9]*", "thermal_throttle/package_throttle_count");
        return core < 0 && pkg < 0 ? DeviceTelemetry.UNKNOWN : Math.max(0, core) + Math.max(0, pkg);
    }

    /** The sum of {@code file} under every {@code glob} directory of {@code dir}; UNKNOWN where none has it. */
    private long sum(String dir, String glob, String file) {
        long total = 0;
        boolean any = false;
        Path base = sys.resolve(dir);
        if (!Files.isDirectory(base)) {
            return DeviceTelemetry.UNKNOWN;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(base, glob)) {
            for (Path e : entries) {
                long v = number(e.resolve(file));
                if (v >= 0) {
                    total += v;
                    any = true;
                }
            }
        } catch (IOException | RuntimeException e) {
            return DeviceTelemetry.UNKNOWN;
        }
        return any ? total : DeviceTelemetry.UNKNOWN;
    }

    /** The highest reading of the thermal zones and the CPU's hwmon sensors, in °C; NaN where there are none. */
    private double hottest() {
        double max = Double.NaN;
        for (String[] where : new String[][] {{"class/thermal", "thermal_zone*", "temp"}, {"class/hwmon", "hwmon*", "temp1_input"}}) {
            Path base = sys.resolve(where[0]);
            if (!Files.isDirectory(base)) {
                continue;
            }
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(base, where[1])) {
                for (Path e : entries) {
                    long milli = number(e.resolve(where[2]));
                    if (milli > 0 && (Double.isNaN(max) || milli / 1000.0 > max)) {
                        max = milli / 1000.0;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no sensor to read: unknown
            }
        }
        return max;
    }

    private static long number(Path file) {
        try {
            return Long.parseLong(Files.readString(file).strip());
        } catch (IOException | NumberFormatException e) {
            return DeviceTelemetry.UNKNOWN;
        }
    }
}
