package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every function of {@link CudaDriver#FUNCTIONS} against its prototype in the installed cuda.h: the
 * symbol is the one cuda.h maps the declared name to (the versioned entry point), and each argument
 * has the layout its C type has on LP64. Also the CUresult and attribute values the backend acts on.
 */
class CudaHeaderTest {
    private static HeaderPrototypes cudaH;

    @BeforeAll
    static void readHeader() throws IOException {
        Path h = CudaToolkit.header("cuda.h");
        if (CudaToolkit.required()) {
            assertTrue(Files.isRegularFile(h), "ci/test expects the CUDA toolkit's cuda.h at " + h);
        }
        assumeTrue(Files.isRegularFile(h), "cuda.h not found at " + h + " (set CUDA_HOME)");
        cudaH = new HeaderPrototypes(Files.readString(h));
    }

    @Test
    void everyBoundFunctionMatchesItsPrototypeInCudaH() {
        List<String> problems = cudaH.check(CudaDriver.FUNCTIONS);
        if (!problems.isEmpty()) {
            fail(problems.size() + " binding(s) disagree with cuda.h:\n" + String.join("\n", problems));
        }
        assertEquals(CudaDriver.FUNCTIONS.size(), CudaDriver.FUNCTIONS.values().stream().map(NativeFunction::symbol).distinct().count());
    }

    @Test
    void theCheckerItselfRejectsAWrongBinding() {
        // a descriptor with one argument of the wrong width, or a wrong symbol, must not pass
        assertEquals(List.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), cudaH.arguments("cuMemAlloc"));
        NativeFunction narrow = NativeFunction.versioned("cuMemAlloc_v2", "cuMemAlloc", ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
        assertEquals(1, cudaH.check(Map.of("cuMemAlloc", narrow)).size(), "a 32-bit size must be caught");
        NativeFunction unversioned = NativeFunction.of("cuMemAlloc", ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
        assertEquals(1, cudaH.check(Map.of("cuMemAlloc", unversioned)).size(), "the unversioned symbol must be caught");
        assertEquals("cuMemAlloc_v2", cudaH.mappedSymbol("cuMemAlloc"));
    }

    @Test
    void theErrorCodesAndAttributesTheBackendUsesAreCudaHs() {
        for (Map.Entry<String, Integer> e : CudaErrors.CODES.entrySet()) {
            assertEquals(cudaH.enumValue(e.getKey()), e.getValue(), e.getKey());
        }
        assertEquals(cudaH.enumValue("CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR"), CudaDevice.ATTRIBUTE_CC_MAJOR);
        assertEquals(cudaH.enumValue("CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR"), CudaDevice.ATTRIBUTE_CC_MINOR);
        assertEquals(cudaH.enumValue("CU_STREAM_NON_BLOCKING"), CudaDevice.STREAM_NON_BLOCKING);
        assertNotEquals(0, CudaErrors.CODES.size());
    }
}
