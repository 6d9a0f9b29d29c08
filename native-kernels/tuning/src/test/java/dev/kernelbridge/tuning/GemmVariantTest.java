package dev.kernelbridge.tuning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kernelbridge.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The type pairs of gemm.cl as the host names them: codes agree with the kernel's banner, labels are unique. */
class GemmVariantTest {
    @Test
    void typeCodesAreThoseGemmClDefines() throws Exception {
        String source = Files.readString(Path.of(System.getProperty("user.dir")).resolve("../kernels/gemm.cl").normalize());
        int found = 0;
        for (Matcher m = Pattern.compile("#define KB_T_(\\w+) (\\d+)").matcher(source); m.find(); found++) {
            assertEquals(Integer.parseInt(m.group(2)), GemmVariant.code(DType.valueOf(m.group(1))), m.group());
        }
        assertEquals(DType.values().length, found, "one code per DType");
    }

    @Test
    void everyAllowedPairHasItsOwnLabelAndDefines() {
        Set<String> labels = new HashSet<>();
        for (GemmVariant v : GemmVariant.ALL) {
            labels.add(v.label());
        }
        assertEquals(GemmVariant.ALL.size(), labels.size());
        assertEquals("bf16_f32", new GemmVariant(DType.BF16, DType.F32).label());
        assertEquals("f32", GemmVariant.F32.label(), "the F32 and F64 PTX keep their names");
        assertEquals("i8", new GemmVariant(DType.I8, DType.I32).label());
        assertEquals("-DKB_DOUBLE=0 -DKB_IN=3 -DKB_OUT=0", new GemmVariant(DType.F16, DType.F32).buildOptions());
        assertEquals("-DKB_DOUBLE=1 -DKB_IN=1 -DKB_OUT=1", GemmVariant.F64.buildOptions());
    }

    @Test
    void narrowTypesReadF32TuningAndComputeInTheirComputeType() {
        assertEquals(DType.F32, new GemmVariant(DType.BF16, DType.BF16).tuningType());
        assertEquals(DType.F32, new GemmVariant(DType.I8, DType.I32).tuningType());
        assertEquals(DType.F64, GemmVariant.F64.tuningType());
        assertEquals(DType.I32, new GemmVariant(DType.I8, DType.I32).computeType());
        assertEquals(DType.F32, new GemmVariant(DType.F16, DType.F16).computeType());
    }

    @Test
    void pairsTheKernelHasNoBuildForAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new GemmVariant(DType.F32, DType.BF16));
        assertThrows(IllegalArgumentException.class, () -> new GemmVariant(DType.BF16, DType.F16));
        assertThrows(IllegalArgumentException.class, () -> new GemmVariant(DType.I8, DType.F32));
        assertThrows(IllegalArgumentException.class, () -> new GemmVariant(DType.I32, DType.I32));
        assertThrows(IllegalArgumentException.class, () -> new GemmVariant(DType.F64, DType.F32));
    }
}
