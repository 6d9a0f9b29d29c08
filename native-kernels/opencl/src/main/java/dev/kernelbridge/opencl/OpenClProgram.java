package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.*;

import dev.kernelbridge.DeviceException;
import dev.kernelbridge.spi.NativeMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A built kernel program for one device, and its kernels by name. Programs are cached on disk per
 * (device, driver, source, options) as device binaries, so a restart does not recompile; a cached
 * binary the driver refuses is rebuilt from source and replaced.
 */
final class OpenClProgram implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.opencl");

    private final long program;
    private final String deviceId;
    private final Map<String, Long> kernels = new ConcurrentHashMap<>();
    private final boolean fromCache;

    private OpenClProgram(long program, String deviceId, boolean fromCache) {
        this.program = program;
        this.deviceId = deviceId;
        this.fromCache = fromCache;
    }

    /** True when the binary came from the on-disk cache instead of the compiler. */
    boolean fromCache() { return fromCache; }

    /**
     * Builds {@code source} with {@code options} for {@code device}. A compile error is a
     * DeviceException with CL_BUILD_PROGRAM_FAILURE that carries the device and the build log.
     */
    static OpenClProgram build(OpenClDevice device, String source, String options, Path cacheDir) {
        String key = cacheKey(device, source, options);
        Path cached = cacheDir == null ? null : cacheDir.resolve(key + ".bin");
        if (cached != null && Files.isRegularFile(cached)) {
            try {
                byte[] binary = Files.readAllBytes(cached);
                long p = fromBinary(device, binary, options);
                if (p != 0) {
                    return new OpenClProgram(p, device.id(), true);
                }
            } catch (IOException e) {
                // unreadable cache entry: compile below and overwrite it
            }
            LOG.log(System.Logger.Level.DEBUG, () -> device.id() + ": cached program " + cached + " refused by the driver; rebuilding");
        }
        long p = fromSource(device, source, options);
        if (cached != null) {
            store(device, p, cached);
        }
        return new OpenClProgram(p, device.id(), false);
    }

    private static long fromSource(OpenClDevice device, String source, String options) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment text = arena.allocateFrom(source);
            MemorySegment strings = arena.allocate(ValueLayout.ADDRESS);
            strings.set(ValueLayout.ADDRESS, 0, text);
            long p = nclCreateProgramWithSource(device.context(), 1, strings.address(), 0, err.address());
            ClErrors.check(err.get(ValueLayout.JAVA_INT, 0), device.id(), "clCreateProgramWithSource");
            int status = buildProgram(device, p, options, arena);
            if (status != CL_SUCCESS) {
                String log = buildLog(device, p);
                clReleaseProgram(p);
                throw new DeviceException(device.id(), status, ClErrors.name(status),
                        "kernel build failed on " + device.info().name() + " (" + device.driverVersion() + ") for options ["
                                + options + "]; build log:\n" + log);
            }
            return p;
        }
    }

    private static int buildProgram(OpenClDevice device, long program, String options, Arena arena) {
        MemorySegment devices = arena.allocate(ValueLayout.JAVA_LONG);
        devices.set(ValueLayout.JAVA_LONG, 0, device.handle());
        MemorySegment opts = arena.allocateFrom(options);
        return nclBuildProgram(program, 1, devices.address(), opts.address(), 0, 0);
    }

    private static long fromBinary(OpenClDevice device, byte[] binary, String options) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment status = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment devices = arena.allocate(ValueLayout.JAVA_LONG);
            devices.set(ValueLayout.JAVA_LONG, 0, device.handle());
            MemorySegment bin = arena.allocate(binary.length);
            MemorySegment.copy(binary, 0, bin, ValueLayout.JAVA_BYTE, 0, binary.length);
            MemorySegment lengths = arena.allocate(ValueLayout.JAVA_LONG);
            lengths.set(ValueLayout.JAVA_LONG, 0, binary.length);
            MemorySegment binaries = arena.allocate(ValueLayout.ADDRESS);
            binaries.set(ValueLayout.ADDRESS, 0, bin);
            long p = nclCreateProgramWithBinary(device.context(), 1, devices.address(), lengths.address(),
                    binaries.address(), status.address(), err.address());
            if (err.get(ValueLayout.JAVA_INT, 0) != CL_SUCCESS || p == 0) {
                return 0;
            }
            if (buildProgram(device, p, options, arena) != CL_SUCCESS) {
                clReleaseProgram(p);
                return 0;
            }
            return p;
        }
    }

    private static void store(OpenClDevice device, long program, Path target) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            if (nclGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, 8, size.address(), 0) != CL_SUCCESS) {
                return;
            }
            long n = size.get(ValueLayout.JAVA_LONG, 0);
            if (n <= 0 || n > Integer.MAX_VALUE) {
                return;
            }
            MemorySegment bin = arena.allocate(n);
            MemorySegment ptrs = arena.allocate(ValueLayout.ADDRESS);
            ptrs.set(ValueLayout.ADDRESS, 0, bin);
            if (nclGetProgramInfo(program, CL_PROGRAM_BINARIES, ValueLayout.ADDRESS.byteSize(), ptrs.address(), 0) != CL_SUCCESS) {
                return;
            }
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".tmp");
            Files.write(tmp, bin.toArray(ValueLayout.JAVA_BYTE));
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // The cache is an optimisation: a read-only home directory must not fail a GEMM.
            LOG.log(System.Logger.Level.DEBUG, () -> device.id() + ": cannot cache program in " + target + ": " + e);
        }
    }

    private static String buildLog(OpenClDevice device, long program) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            nclGetProgramBuildInfo(program, device.handle(), CL_PROGRAM_BUILD_LOG, 0, 0, size.address());
            long n = Math.min(size.get(ValueLayout.JAVA_LONG, 0), 1 << 20);
            if (n <= 1) {
                return "(empty)";
            }
            MemorySegment log = arena.allocate(n);
            nclGetProgramBuildInfo(program, device.handle(), CL_PROGRAM_BUILD_LOG, n, log.address(), 0);
            return log.getString(0).strip();
        }
    }

    static String cacheKey(OpenClDevice device, String source, String options) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {device.info().vendor(), device.info().name(), device.driverVersion(), source, options}) {
                sha.update(part.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The kernel called {@code name}; kernels are shared, so callers set arguments under the device lock. */
    long kernel(String name) {
        return kernels.computeIfAbsent(name, n -> {
            int[] err = new int[1];
            long k = clCreateKernel(program, n, err);
            ClErrors.check(err[0], deviceId, "clCreateKernel(" + n + ")");
            return k;
        });
    }

    @Override
    public void close() {
        kernels.values().forEach(org.lwjgl.opencl.CL10::clReleaseKernel);
        kernels.clear();
        clReleaseProgram(program);
    }
}
