package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.*;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.TuningDatabase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Every device of every OpenCL platform the ICD loader knows, in platform order. Each platform
 * gets one context holding all its devices, so buffers of one platform are usable by each of its
 * devices (the collectives reduce across them in place).
 */
final class OpenClBackend implements Backend {
    private final List<OpenClDevice> devices = new ArrayList<>();
    private final List<Long> contexts = new ArrayList<>();
    private final TuningDatabase tuning;

    OpenClBackend(Config config) {
        OpenClLibrary.ensureLoaded(config);
        Path cache = config.cacheDirectory();
        this.tuning = TuningDatabase.load(tuningFile(config), shippedDefaults());
        Path programs = cache.resolve("opencl-programs");
        try {
            for (long platform : platforms()) {
                long[] ids = devices(platform);
                if (ids.length == 0) {
                    continue;
                }
                long context = createContext(platform, ids);
                contexts.add(context);
                for (long id : ids) {
                    devices.add(new OpenClDevice("opencl:" + devices.size(), id, context, tuning, tuningFile(config), programs));
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The user's tuning file, written by {@code kernelbridge tune}. */
    static Path tuningFile(Config config) {
        return config.cacheDirectory().resolve("tuning").resolve("opencl.json");
    }

    @Override
    public List<BackendDevice> devices() {
        return List.copyOf(devices);
    }

    List<OpenClDevice> openClDevices() { return List.copyOf(devices); }

    @Override
    public void close() {
        devices.forEach(OpenClDevice::close);
        devices.clear();
        contexts.forEach(org.lwjgl.opencl.CL10::clReleaseContext);
        contexts.clear();
    }

    static long[] platforms() {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int status = nclGetPlatformIDs(0, 0, count.address());
            if (status == -1001 || count.get(ValueLayout.JAVA_INT, 0) == 0) {
                return new long[0]; // CL_PLATFORM_NOT_FOUND_KHR: the loader found no driver
            }
            ClErrors.check(status, "opencl", "clGetPlatformIDs");
            int n = count.get(ValueLayout.JAVA_INT, 0);
            MemorySegment ids = arena.allocate(ValueLayout.JAVA_LONG, n);
            ClErrors.check(nclGetPlatformIDs(n, ids.address(), 0), "opencl", "clGetPlatformIDs");
            return ids.toArray(ValueLayout.JAVA_LONG);
        }
    }

    static long[] devices(long platform) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int status = nclGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, 0, count.address());
            if (status == -1 /* CL_DEVICE_NOT_FOUND */ || count.get(ValueLayout.JAVA_INT, 0) == 0) {
                return new long[0];
            }
            ClErrors.check(status, "opencl", "clGetDeviceIDs");
            int n = count.get(ValueLayout.JAVA_INT, 0);
            MemorySegment ids = arena.allocate(ValueLayout.JAVA_LONG, n);
            ClErrors.check(nclGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, ids.address(), 0), "opencl", "clGetDeviceIDs");
            return ids.toArray(ValueLayout.JAVA_LONG);
        }
    }

    static String platformName(long platform) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            nclGetPlatformInfo(platform, CL_PLATFORM_NAME, 0, 0, size.address());
            MemorySegment text = arena.allocate(Math.max(1, size.get(ValueLayout.JAVA_LONG, 0)));
            nclGetPlatformInfo(platform, CL_PLATFORM_NAME, text.byteSize(), text.address(), 0);
            return text.getString(0).strip();
        }
    }

    private static long createContext(long platform, long[] deviceIds) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment props = arena.allocateFrom(ValueLayout.JAVA_LONG, CL_CONTEXT_PLATFORM, platform, 0);
            MemorySegment ids = arena.allocateFrom(ValueLayout.JAVA_LONG, deviceIds);
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            long context = nclCreateContext(props.address(), deviceIds.length, ids.address(), 0, 0, err.address());
            ClErrors.check(err.get(ValueLayout.JAVA_INT, 0), "opencl", "clCreateContext");
            return context;
        }
    }

    /** The defaults this backend ships, tuned on the devices named in them (PoCL here). */
    private static String shippedDefaults() {
        try (java.io.InputStream in = OpenClBackend.class.getResourceAsStream("tuning-defaults.json")) {
            return in == null ? null : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return null; // reported by the database as missing defaults
        }
    }
}
