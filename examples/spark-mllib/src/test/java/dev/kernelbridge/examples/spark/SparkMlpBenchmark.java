package dev.kernelbridge.examples.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The targets of the netlib seams, measured (run with -Pbench; not part of the tests): Spark MLP
 * training end to end, layers [256, 1024, 1024, 10], block size 1024, stock vs KernelBridge; and
 * the netlib dgemm/sgemm call at n = 512, dev.ludovic.netlib's Java BLAS vs KernelBridge, in one
 * JVM. Writes target/spark-mllib/bench.md. Sizes: -Dbench.rows, -Dbench.iter.
 */
class SparkMlpBenchmark {
    @Test
    void measure() throws Exception {
        String rows = System.getProperty("bench.rows", "4096"), iter = System.getProperty("bench.iter", "5");
        String[] args = {"256,1024,1024,10", "1024", rows, iter, "11", "2"};
        Map<String, String> gemm = SparkRuns.run("netlib-gemm", false, NetlibGemmBench.class.getName(), "512", "11");
        Map<String, String> stock = SparkRuns.run("bench-stock", false, SparkMlpRun.class.getName(), args);
        Map<String, String> kb = SparkRuns.run("bench-kernelbridge", true, SparkMlpRun.class.getName(), args);
        double s = Double.parseDouble(stock.get("seconds")), k = Double.parseDouble(kb.get("seconds"));
        StringBuilder md = new StringBuilder("| measurement | stock | KernelBridge | speed-up |\n|---|---:|---:|---:|\n");
        md.append(String.format("| Spark MLP [256,1024,1024,10], block 1024, %s rows, %s iterations: fit() s | %.2f | %.2f | %.2f× |%n", rows, iter, s, k, s / k));
        for (String r : new String[] {"dgemm", "sgemm"}) {
            String stockImpl = gemm.keySet().stream().filter(x -> x.startsWith(r + ".") && x.endsWith(".ms") && !x.contains("kernelbridge")).findFirst().orElseThrow();
            double ms = Double.parseDouble(gemm.get(stockImpl)), msKb = Double.parseDouble(gemm.get(r + ".kernelbridge.ms"));
            md.append(String.format("| netlib %s n = 512 (%s vs KernelBridge): ms per call | %.2f | %.2f | %.2f× |%n",
                    r, stockImpl.split("\\.")[1], ms, msKb, ms / msKb));
        }
        md.append(String.format("%nfinal loss stock %s, KernelBridge %s; accuracy stock %s, KernelBridge %s; KernelBridge DGEMMs %s%n",
                stock.get("loss"), kb.get("loss"), stock.get("accuracy"), kb.get("accuracy"), kb.get("kernelbridgeDgemm")));
        Path out = Path.of(System.getProperty("spark.example.report", "target/spark-mllib"), "bench.md");
        Files.writeString(out, md);
        System.out.println(md);
    }
}
