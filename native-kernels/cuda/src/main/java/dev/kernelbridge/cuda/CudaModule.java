package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.tuning.GemmParameters;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * One kernel family (gemm or reduce) for one dtype, loaded into a device's context: the shipped PTX
 * for the newest architecture the GPU supports, else (or for tuned parameters) the source compiled
 * by NVRTC for the GPU's own architecture. Holds the kernels' functions, the parameters they were
 * built with and the address of their NDRange descriptor.
 */
final class CudaModule {
    /** Architectures build-ptx targets, newest first. */
    static final List<Integer> SHIPPED = List.of(90, 80, 75, 70);
    private static final String PTX = "/dev/kernelbridge/cuda/ptx/";
    private static final String SOURCES = "/dev/kernelbridge/cuda/kernels/";

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cuda");
    /** The tunables the shipped PTX was built with. */
    static final GemmParameters PTX_PARAMETERS = GemmParameters.fromDefines(parameters());

    final MemorySegment module;
    final long ndrange;
    final GemmParameters parameters;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    final String origin;

    private CudaModule(MemorySegment module, long ndrange, GemmParameters parameters, String origin) {
        this.module = module;
        this.ndrange = ndrange;
        this.parameters = parameters;
        this.origin = origin;
    }

    /** The PTX resource for {@code family}/{@code dtype} on a device of compute capability {@code cc} (e.g. 86), or null. */
    static String shippedPtx(String family, DType dtype, int cc) {
        for (int arch : SHIPPED) {
            if (arch <= cc) {
                String text = resource(PTX + family + "-" + dtype.label() + "-sm_" + arch + ".ptx");
                if (text != null) {
                    return text;
                }
            }
        }
        return null;
    }

    /** The tunables the shipped PTX was built with (ptx-parameters.properties), as -D options. */
    static Map<String, Integer> parameters() {
        Properties p = new Properties();
        try (InputStream in = CudaModule.class.getResourceAsStream("/dev/kernelbridge/cuda/ptx-parameters.properties")) {
            if (in == null) {
                throw new IllegalStateException("ptx-parameters.properties is missing from the kernelbridge-cuda jar");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Integer> out = new HashMap<>();
        p.forEach((k, v) -> out.put(String.valueOf(k), Integer.parseInt(String.valueOf(v).trim())));
        return out;
    }

    /**
     * Loads {@code family} for {@code dtype} built with {@code wanted}: the shipped PTX when it was built
     * with those parameters and suits the GPU, else NVRTC. Tuned parameters without NVRTC fall back to
     * the shipped PTX's, with a warning.
     */
    static CudaModule load(CudaDevice device, String family, DType dtype, GemmParameters wanted) {
        int cc = device.computeCapability();
        String ptx = wanted.equals(PTX_PARAMETERS) ? shippedPtx(family, dtype, cc) : null;
        String origin = "shipped PTX (" + PTX_PARAMETERS + ")";
        if (ptx == null) {
            Nvrtc nvrtc = Nvrtc.load().orElse(null);
            if (nvrtc == null) {
                ptx = shippedPtx(family, dtype, cc);
                if (ptx == null) {
                    throw new DeviceException(device.id(), 0, "NO_KERNEL_IMAGE", "no shipped PTX suits compute capability " + cc
                            + " and NVRTC (libnvrtc.so) is not installed");
                }
                LOG.log(System.Logger.Level.WARNING, "{0}: tuned parameters {1} need NVRTC (libnvrtc.so), which is not installed;"
                        + " running the shipped PTX ({2})", device.id(), wanted, PTX_PARAMETERS);
                wanted = PTX_PARAMETERS;
            } else {
                String source = resource(SOURCES + "kernelbridge_compat.h") + "\n" + resource(SOURCES + family + ".cl");
                List<String> options = new java.util.ArrayList<>(List.of("-DKB_DOUBLE=" + (dtype == DType.F64 ? 1 : 0)));
                wanted.asDefines().forEach((k, v) -> options.add("-D" + k + "=" + v));
                try {
                    ptx = nvrtc.compile(source, family + ".cu", "compute_" + cc, options);
                } catch (IllegalStateException e) {
                    throw new DeviceException(device.id(), 0, "NVRTC_ERROR_COMPILATION", e.getMessage());
                }
                origin = "NVRTC for compute_" + cc + " (" + wanted + ")";
            }
        }
        CudaDriver cu = device.driver();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            device.check("cuModuleLoadData", cu.call("cuModuleLoadData", out, a.allocateFrom(ptx)));
            MemorySegment module = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment ptr = a.allocate(ValueLayout.JAVA_LONG), size = a.allocate(ValueLayout.JAVA_LONG);
            device.check("cuModuleGetGlobal", cu.call("cuModuleGetGlobal", ptr, size, module, a.allocateFrom("kb_ndrange")));
            return new CudaModule(module, ptr.get(ValueLayout.JAVA_LONG, 0), wanted, origin);
        }
    }

    MemorySegment function(CudaDevice device, String name) {
        return functions.computeIfAbsent(name, n -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                device.check("cuModuleGetFunction", device.driver().call("cuModuleGetFunction", out, module, a.allocateFrom(n)));
                return out.get(ValueLayout.ADDRESS, 0);
            }
        });
    }

    private static String resource(String path) {
        try (InputStream in = CudaModule.class.getResourceAsStream(path)) {
            return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
