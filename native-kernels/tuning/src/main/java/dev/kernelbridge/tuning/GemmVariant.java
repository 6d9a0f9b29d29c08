package dev.kernelbridge.tuning;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.GemmCall;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One build of {@code gemm.cl}: the type of A and B ({@code input}) and of C ({@code output}). It
 * names the defines that select the build (the kernel banner's KB_IN, KB_OUT, KB_DOUBLE), the label
 * its shipped PTX files carry, and the tuning entries it reads. Shared by OpenCL and CUDA so both
 * build the same variants from the one source. Immutable.
 */
public record GemmVariant(DType input, DType output) {
    public static final GemmVariant F32 = new GemmVariant(DType.F32, DType.F32);
    public static final GemmVariant F64 = new GemmVariant(DType.F64, DType.F64);

    /** Every pair GemmCall allows, in the order build-ptx compiles them. */
    public static final List<GemmVariant> ALL = List.of(F32, F64,
            new GemmVariant(DType.BF16, DType.BF16), new GemmVariant(DType.BF16, DType.F32),
            new GemmVariant(DType.F16, DType.F16), new GemmVariant(DType.F16, DType.F32),
            new GemmVariant(DType.I8, DType.I32));

    public GemmVariant {
        boolean allowed = switch (input) {
            case F32, F64 -> output == input;
            case BF16, F16 -> output == input || output == DType.F32;
            case I8 -> output == DType.I32;
            case I32 -> false;
        };
        if (!allowed) {
            throw new IllegalArgumentException("gemm.cl has no " + input.label() + " -> " + output.label() + " build");
        }
    }

    /** The variant that runs {@code call}. */
    public static GemmVariant of(GemmCall call) {
        return new GemmVariant(call.inputType(), call.dtype());
    }

    /** The variant whose A, B and C all hold {@code dtype} (F32 or F64). */
    public static GemmVariant of(DType dtype) {
        return new GemmVariant(dtype, dtype);
    }

    /**
     * "f32", "f64", "bf16", "bf16_f32", "f16", "f16_f32", "i8": the name in file names
     * (gemm-&lt;label&gt;-sm_NN.ptx) and logs. A pair with one possible output is named by its input.
     */
    public String label() {
        return input == output || input == DType.I8 ? input.label() : input.label() + "_" + output.label();
    }

    /** The -D defines that select this build; with the tunables they make the whole build. */
    public Map<String, Integer> defines() {
        Map<String, Integer> d = new LinkedHashMap<>();
        d.put("KB_DOUBLE", input == DType.F64 ? 1 : 0);
        d.put("KB_IN", code(input));
        d.put("KB_OUT", code(output));
        return d;
    }

    public String buildOptions() {
        StringBuilder sb = new StringBuilder();
        defines().forEach((k, v) -> sb.append("-D").append(k).append('=').append(v).append(' '));
        return sb.toString().trim();
    }

    /** What packed panels, accumulators, alpha and beta hold: F64, I32 (kept as uint bits) or F32. */
    public DType computeType() {
        return input.computeType();
    }

    /**
     * Whose tuning entries this build reads: F64 its own; every other pair F32's — its kernel is the
     * F32 one after packing, with 4-byte compute elements, so the same tiles fit the same registers.
     */
    public DType tuningType() {
        return input == DType.F64 ? DType.F64 : DType.F32;
    }

    /** The type codes of gemm.cl's banner (KB_T_F32 … KB_T_I32). */
    static int code(DType t) {
        return switch (t) {
            case F32 -> 0;
            case F64 -> 1;
            case BF16 -> 2;
            case F16 -> 3;
            case I8 -> 4;
            case I32 -> 5;
        };
    }

    @Override
    public String toString() {
        return input.label() + "->" + output.label();
    }
}
