package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.spi.NativeMemory;
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
 * One kernel family (gemm or reduce) for one build (a dtype, or a GEMM type pair named by its
 * {@link dev.kernelbridge.tuning.GemmVariant} label), loaded into a device's context: the shipped PTX
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
        return shippedPtx(family, dtype.label(), cc);
    }

    /** The PTX resource for {@code family}/{@code label} ("f32", "bf16_f32", …) on compute capability {@code cc}, or null. */
    static String shippedPtx(String family, String label, int cc) {
        for (int arch : SHIPPED) {
            if (arch <= cc) {
                String text = resource(PTX + family + "-" + label + "-sm_" + arch + ".ptx");
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

    /** One module image to try: where it comes from, and its bytes (null: compile with NVRTC when tried). */
    record Image(String origin, byte[] bytes) { }

    /**
     * The images to try for {@code family}/{@code dtype} on compute capability {@code cc}, in order: for the
     * shipped parameters, the shipped CUBIN for the GPU's own architecture (no PTX JIT: runs on a driver
     * older than the nvcc that built the jar), then the newest shipped PTX it runs; last (or only, for
     * tuned parameters) NVRTC for the GPU's own architecture, as a CUBIN.
     */
    static List<Image> images(String family, DType dtype, int cc, GemmParameters wanted) {
        return images(family, dtype.label(), cc, wanted);
    }

    static List<Image> images(String family, String label, int cc, GemmParameters wanted) {
        List<Image> out = new java.util.ArrayList<>();
        if (wanted.equals(PTX_PARAMETERS)) {
            for (int arch : CUBIN_ARCHS) {
                if (arch / 10 == cc / 10 && arch <= cc) {
                    byte[] cubin = bytes(PTX + family + "-" + label + "-sm_" + arch + ".cubin");
                    if (cubin != null) {
                        out.add(new Image("shipped CUBIN sm_" + arch + " (" + PTX_PARAMETERS + ")", cubin));
                    }
                }
            }
            String ptx = shippedPtx(family, label, cc);
            if (ptx != null) {
                out.add(new Image("shipped PTX (" + PTX_PARAMETERS + ")", (ptx + "\0").getBytes(StandardCharsets.UTF_8)));
            }
        }
        out.add(new Image("NVRTC for sm_" + cc + " (" + wanted + ")", null));
        return out;
    }

    /** Architectures build-ptx also ships as CUBIN (binary for that major version, from its minor up). */
    static final List<Integer> CUBIN_ARCHS = List.of(90);

    /** Loads {@code family} for {@code dtype} (its only define: KB_DOUBLE); see the general form below. */
    static CudaModule load(CudaDevice device, String family, DType dtype, GemmParameters wanted) {
        return load(device, family, dtype.label(), Map.of("KB_DOUBLE", dtype == DType.F64 ? 1 : 0), wanted);
    }

    /**
     * Loads build {@code label} of {@code family} (selected by {@code typeDefines}, which NVRTC gets
     * as -D options; the shipped images were built with the same) with tunables {@code wanted}: the
     * first of {@link #images} the driver takes. An image the driver refuses for its format (a PTX ISA newer than the driver,
     * CUDA_ERROR_UNSUPPORTED_PTX_VERSION; no binary for this GPU) gives way to the next. Tuned parameters
     * without NVRTC fall back to the shipped images, with a warning.
     */
    static CudaModule load(CudaDevice device, String family, String label, Map<String, Integer> typeDefines, GemmParameters wanted) {
        int cc = device.computeCapability();
        Nvrtc nvrtc = Nvrtc.load().orElse(null);
        if (nvrtc == null && !wanted.equals(PTX_PARAMETERS)) {
            LOG.log(System.Logger.Level.WARNING, "{0}: tuned parameters {1} need NVRTC (libnvrtc), which was not found;"
                    + " running the shipped kernels ({2})", device.id(), wanted, PTX_PARAMETERS);
            wanted = PTX_PARAMETERS;
        }
        DeviceException first = null;
        for (Image image : images(family, label, cc, wanted)) {
            byte[] bytes = image.bytes();
            if (bytes == null) {
                if (nvrtc == null) {
                    continue;
                }
                String source = resource(SOURCES + "kernelbridge_compat.h") + "\n" + resource(SOURCES + family + ".cl");
                List<String> options = new java.util.ArrayList<>();
                typeDefines.forEach((k, v) -> options.add("-D" + k + "=" + v));
                wanted.asDefines().forEach((k, v) -> options.add("-D" + k + "=" + v));
                try {
                    bytes = nvrtc.compile(source, family + ".cu", "sm_" + cc, options);
                } catch (IllegalStateException e) {
                    throw new DeviceException(device.id(), 0, "NVRTC_ERROR_COMPILATION", e.getMessage());
                }
            }
            try {
                return load(device, bytes, wanted, image.origin());
            } catch (DeviceException e) {
                if (!refusedImage(e.nativeCode())) {
                    throw e;
                }
                LOG.log(System.Logger.Level.DEBUG, "{0}: {1} refused ({2}); trying the next image", device.id(), image.origin(), e.nativeName());
                first = first == null ? e : first;
            }
        }
        throw first != null ? first : new DeviceException(device.id(), 0, "NO_KERNEL_IMAGE", "no shipped kernel image suits compute"
                + " capability " + cc + " and NVRTC (libnvrtc) was not found (kernelbridge.cuda.lib.path)");
    }

    /** The driver refused the image itself (its format or architecture), not the device: another image may do. */
    static boolean refusedImage(long code) {
        return code == CudaErrors.CUDA_ERROR_UNSUPPORTED_PTX_VERSION || code == CudaErrors.CUDA_ERROR_NO_BINARY_FOR_GPU
                || code == CudaErrors.CUDA_ERROR_INVALID_PTX || code == CudaErrors.CUDA_ERROR_INVALID_IMAGE;
    }

    private static CudaModule load(CudaDevice device, byte[] image, GemmParameters parameters, String origin) {
        CudaDriver cu = device.driver();
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            device.check("cuModuleLoadData", cu.call("cuModuleLoadData", out, a.allocateFrom(ValueLayout.JAVA_BYTE, image)));
            MemorySegment module = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment ptr = a.allocate(ValueLayout.JAVA_LONG), size = a.allocate(ValueLayout.JAVA_LONG);
            device.check("cuModuleGetGlobal", cu.call("cuModuleGetGlobal", ptr, size, module, a.allocateFrom("kb_ndrange")));
            return new CudaModule(module, ptr.get(ValueLayout.JAVA_LONG, 0), parameters, origin);
        }
    }

    MemorySegment function(CudaDevice device, String name) {
        return functions.computeIfAbsent(name, n -> {
            try (Arena a = NativeMemory.confined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                device.check("cuModuleGetFunction", device.driver().call("cuModuleGetFunction", out, module, a.allocateFrom(n)));
                return out.get(ValueLayout.ADDRESS, 0);
            }
        });
    }

    private static String resource(String path) {
        byte[] b = bytes(path);
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    private static byte[] bytes(String path) {
        try (InputStream in = CudaModule.class.getResourceAsStream(path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
