package dev.kernelbridge.examples.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Spark MLlib's MLP trained twice on the same seeded data — on Spark's stock Java BLAS, then with
 * -javaagent:kernelbridge-netlib.jar — and nothing else changed.
 *
 * <p>Tolerances: KernelBridge sums the GEMMs' products in another order than dev.ludovic.netlib's
 * Java kernels (blocked, vectorised), so results are not bitwise equal; L-BFGS amplifies those
 * rounding differences a little over its iterations, so the final loss is compared within 2 %
 * relative and test accuracy within 2 points. Chance is 1/10; accuracy must exceed 0.6.
 */
class SparkMlpComparisonTest {
    private static final String[] ARGS = {"32,64,10", "128", "4000", "40", "11", "2"};

    @Test
    void kernelBridgeTrainsTheSameModelAndRunsTheGemms() throws Exception {
        Map<String, String> stock = SparkRuns.run("stock", false, SparkMlpRun.class.getName(), ARGS);
        Map<String, String> kb = SparkRuns.run("kernelbridge", true, SparkMlpRun.class.getName(), ARGS);

        assertEquals("0", stock.get("kernelbridgeDgemm"), "the stock run must not reach KernelBridge");
        assertTrue(stock.get("blas").startsWith("dev.ludovic.netlib.blas."), "stock level-3 BLAS: " + stock.get("blas"));
        assertEquals("dev.kernelbridge.netlib.LudovicBLAS", kb.get("blas"));
        assertTrue(Long.parseLong(kb.get("kernelbridgeDgemm")) > 0, "Spark's GEMMs ran on KernelBridge: " + kb);

        double lossStock = Double.parseDouble(stock.get("loss")), lossKb = Double.parseDouble(kb.get("loss"));
        double accStock = Double.parseDouble(stock.get("accuracy")), accKb = Double.parseDouble(kb.get("accuracy"));
        assertEquals(lossStock, lossKb, 0.02 * Math.abs(lossStock), "final loss");
        assertEquals(accStock, accKb, 0.02, "test accuracy");
        assertTrue(accKb > 0.6, "accuracy well above chance (0.1): " + accKb);
    }
}
