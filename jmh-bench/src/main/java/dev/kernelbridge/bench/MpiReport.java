package dev.kernelbridge.bench;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Joins the JSON lines of the C peer and of {@link MpiAllReduceRatio} into report.md and
 * results.json: per rank count and size, time per call of each and our overhead over the peer.
 * Usage: MpiReport OUT_DIR peer.jsonl... -- ours.jsonl...
 */
public final class MpiReport {
    private MpiReport() { }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        Map<String, List<Double>> peerRuns = new TreeMap<>(), ourRuns = new TreeMap<>();
        boolean ours = false;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--")) {
                ours = true;
                continue;
            }
            for (String line : Files.readAllLines(Path.of(args[i]))) {
                if (!line.startsWith("{")) {
                    continue;
                }
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                String key = String.format(Locale.ROOT, "%d %012d", o.get("ranks").getAsInt(), o.get("bytes").getAsLong());
                (ours ? ourRuns : peerRuns).computeIfAbsent(key, k -> new ArrayList<>()).add(o.get("us").getAsDouble());
            }
        }
        Map<String, double[]> rows = new TreeMap<>();
        for (String key : peerRuns.keySet()) {
            List<Double> p = peerRuns.get(key), o = ourRuns.getOrDefault(key, List.of());
            // median of the runs' medians, and the spread of ours as the error
            rows.put(key, new double[] {median(p), median(o), o.isEmpty() ? 0 : (max(o) - min(o)) / 2, p.size()});
        }
        StringBuilder md = new StringBuilder("# KernelBridge MPI all-reduce against plain C MPI_Allreduce, " + Instant.now() + "\n\n");
        md.append("F32 sum, one rank per process, mpirun on this host (").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, oversubscribed at 4 ranks). Time per call in µs, the median over alternating runs of each side of each run's median; overhead = ours / C − 1.\n\n");
        md.append("| ranks | MiB | C MPI_Allreduce | KernelBridge | overhead |\n|---:|---:|---:|---:|---:|\n");
        List<Figure> figures = new ArrayList<>();
        for (var e : rows.entrySet()) {
            String[] k = e.getKey().split(" ");
            int ranks = Integer.parseInt(k[0]);
            long bytes = Long.parseLong(k[1]);
            double peer = e.getValue()[0], mine = e.getValue()[1];
            md.append(String.format(Locale.ROOT, "| %d | %s | %.1f | %.1f | %+.1f %% |%n", ranks, mib(bytes), peer, mine, (mine / peer - 1) * 100));
            double gbOurs = bytes / mine / 1e3, gbPeer = bytes / peer / 1e3;
            figures.add(new Figure("mpi_allreduce_r" + ranks + "_" + bytes + "b", gbOurs, gbOurs * e.getValue()[2] / mine, gbPeer, 0,
                    "C MPI_Allreduce", "GB/s"));
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("report.md"), md);
        new Results(Instant.now().toString(), Results.fingerprint(OpenBlas.get().map(OpenBlas::coreName).orElse("unavailable")), figures)
                .write(out.resolve("results.json"));
        System.out.print(md);
    }

    private static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = xs.stream().sorted().toList();
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }

    private static double min(List<Double> xs) { return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN); }

    private static double max(List<Double> xs) { return xs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN); }

    private static String mib(long bytes) {
        double m = bytes / (double) (1 << 20);
        return m == Math.rint(m) ? String.valueOf((long) m) : String.format(Locale.ROOT, "%.3f", m);
    }
}
