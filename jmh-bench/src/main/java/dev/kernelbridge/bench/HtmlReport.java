package dev.kernelbridge.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * A self-contained HTML page (no network) with PNG charts drawn by XChart: GEMM GFLOP/s against
 * size per implementation with the FMA peak, all-reduce bus bandwidth against message size with
 * its bound, and the history of every gated ratio. The tables are the Markdown report's.
 */
final class HtmlReport {
    private static final Pattern GEMM = Pattern.compile("gemm_(f32|f64)_n(\\d+)(_vs_blis)?");
    private static final Pattern OPENCL = Pattern.compile("opencl_sgemm_n(\\d+)_vs_clblast");
    private static final Pattern ALLREDUCE = Pattern.compile("allreduce_r(\\d+)_(\\d+)(kib|mib)");

    private HtmlReport() { }

    static void write(Path dir, Results results, String markdown, double fmaPeakGflops, Path historyDir) throws IOException {
        Files.createDirectories(dir);
        List<String> images = new ArrayList<>();
        XYChart gemm = gemmChart(results.figures(), fmaPeakGflops);
        if (gemm != null) {
            BitmapEncoder.saveBitmap(gemm, dir.resolve("gemm").toString(), BitmapEncoder.BitmapFormat.PNG);
            images.add("gemm.png");
        }
        XYChart allReduce = allReduceChart(results.figures());
        if (allReduce != null) {
            BitmapEncoder.saveBitmap(allReduce, dir.resolve("allreduce").toString(), BitmapEncoder.BitmapFormat.PNG);
            images.add("allreduce.png");
        }
        org.knowm.xchart.CategoryChart moe = moeChart(results.figures());
        if (moe != null) {
            BitmapEncoder.saveBitmap(moe, dir.resolve("moe").toString(), BitmapEncoder.BitmapFormat.PNG);
            images.add("moe.png");
        }
        XYChart history = historyChart(historyDir, results);
        if (history != null) {
            BitmapEncoder.saveBitmap(history, dir.resolve("history").toString(), BitmapEncoder.BitmapFormat.PNG);
            images.add("history.png");
        }
        StringBuilder html = new StringBuilder("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>KernelBridge benchmarks</title>"
                + "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
                + "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>");
        html.append("<p>Machine: ").append(escape(results.machine().toString())).append("</p>");
        for (String img : images) {
            html.append("<p><img src=\"").append(img).append("\" alt=\"").append(img).append("\"></p>");
        }
        html.append(markdownToHtml(markdown)).append("</body></html>\n");
        Files.writeString(dir.resolve("report.html"), html);
    }

    private static XYChart gemmChart(List<Figure> figures, double peak) {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        double maxN = 0, minN = Double.MAX_VALUE;
        for (Figure f : figures) {
            Matcher m = GEMM.matcher(f.name());
            Matcher cl = OPENCL.matcher(f.name());
            if (m.matches()) {
                double n = Double.parseDouble(m.group(2));
                maxN = Math.max(maxN, n);
                minN = Math.min(minN, n);
                if (m.group(3) == null) { // the _vs_blis twin carries the same "ours"
                    series.computeIfAbsent("KernelBridge CPU " + m.group(1), k -> new ArrayList<>()).add(new double[] {n, f.ours()});
                }
                if (f.peerAvailable()) {
                    series.computeIfAbsent(f.peerName() + " " + m.group(1), k -> new ArrayList<>()).add(new double[] {n, f.peer()});
                }
            } else if (cl.matches()) {
                double n = Double.parseDouble(cl.group(1));
                series.computeIfAbsent("KernelBridge OpenCL f32", k -> new ArrayList<>()).add(new double[] {n, f.ours()});
                if (f.peerAvailable()) {
                    series.computeIfAbsent("CLBlast (OpenCL) f32", k -> new ArrayList<>()).add(new double[] {n, f.peer()});
                }
            }
        }
        if (series.isEmpty()) {
            return null;
        }
        XYChart c = new XYChartBuilder().width(900).height(500).title("GEMM n×n×n, every core").xAxisTitle("n").yAxisTitle("GFLOP/s").build();
        c.getStyler().setXAxisLogarithmic(true);
        series.forEach((name, points) -> c.addSeries(name, column(points, 0), column(points, 1)));
        if (peak > 0) {
            c.addSeries("FMA peak (f32)", new double[] {minN, maxN}, new double[] {peak, peak}).setMarker(SeriesMarkers.NONE);
            c.addSeries("FMA peak (f64)", new double[] {minN, maxN}, new double[] {peak / 2, peak / 2}).setMarker(SeriesMarkers.NONE);
        }
        return c;
    }

    private static XYChart allReduceChart(List<Figure> figures) {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Figure f : figures) {
            Matcher m = ALLREDUCE.matcher(f.name());
            if (m.matches()) {
                int ranks = Integer.parseInt(m.group(1));
                double mib = Double.parseDouble(m.group(2)) / (m.group(3).equals("kib") ? 1024 : 1);
                double bus = 2.0 * (ranks - 1) / ranks;
                series.computeIfAbsent(ranks + " ranks", k -> new ArrayList<>()).add(new double[] {mib, f.ours() * bus});
                series.computeIfAbsent(ranks + " ranks: bound", k -> new ArrayList<>()).add(new double[] {mib, f.peer() * bus});
            }
        }
        if (series.isEmpty()) {
            return null;
        }
        XYChart c = new XYChartBuilder().width(900).height(500).title("All-reduce, in-process CPU ranks, F32 sum")
                .xAxisTitle("MiB").yAxisTitle("bus bandwidth, GB/s").build();
        c.getStyler().setXAxisLogarithmic(true);
        series.forEach((name, points) -> {
            XYSeries s = c.addSeries(name, column(points, 0), column(points, 1));
            if (name.endsWith("bound")) {
                s.setMarker(SeriesMarkers.NONE);
            }
        });
        return c;
    }

    /** Every gated ratio over the stored runs, oldest first, this run last. */
    /** The MoE ratios (issue 15) as bars beside their targets ({@link MoeReport#TARGETS}); null without MoE figures. */
    private static org.knowm.xchart.CategoryChart moeChart(List<Figure> figures) {
        List<String> names = new ArrayList<>();
        List<Double> ratios = new ArrayList<>(), targets = new ArrayList<>();
        for (Figure f : figures) {
            for (DTypeReport.Target t : MoeReport.TARGETS) {
                if (t.figures().matcher(f.name()).matches() && f.peerAvailable()) {
                    names.add(f.name().replace("moe_", ""));
                    ratios.add(f.ratio());
                    targets.add(t.min());
                }
            }
        }
        if (names.isEmpty()) {
            return null;
        }
        org.knowm.xchart.CategoryChart chart = new org.knowm.xchart.CategoryChartBuilder().width(900).height(450)
                .title("MoE: ratio to the peer measured in the same run, and the target").yAxisTitle("ratio").build();
        chart.getStyler().setXAxisLabelRotation(20);
        chart.addSeries("measured", names, ratios);
        chart.addSeries("target", names, targets);
        return chart;
    }

    private static XYChart historyChart(Path historyDir, Results now) throws IOException {
        List<Results> runs = new ArrayList<>();
        if (historyDir != null && Files.isDirectory(historyDir)) {
            try (Stream<Path> files = Files.list(historyDir)) {
                for (Path p : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                    runs.add(Results.read(p));
                }
            }
        }
        if (runs.isEmpty() || !runs.getLast().when().equals(now.when())) {
            runs.add(now);
        }
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (int i = 0; i < runs.size(); i++) {
            for (Figure f : runs.get(i).figures()) {
                if (f.peerAvailable()) {
                    series.computeIfAbsent(f.name(), k -> new ArrayList<>()).add(new double[] {i + 1, f.ratio()});
                }
            }
        }
        if (series.isEmpty()) {
            return null;
        }
        XYChart c = new XYChartBuilder().width(900).height(500).title("Gated ratios, run by run").xAxisTitle("run").yAxisTitle("ours / peer").build();
        series.forEach((name, points) -> c.addSeries(name, column(points, 0), column(points, 1)));
        return c;
    }

    private static double[] column(List<double[]> points, int i) {
        return points.stream().mapToDouble(p -> p[i]).toArray();
    }

    /** Headings, pipe tables and paragraphs: all the report's Markdown uses. */
    static String markdownToHtml(String md) {
        StringBuilder out = new StringBuilder();
        boolean inTable = false;
        for (String line : md.split("\n")) {
            if (line.startsWith("|")) {
                if (line.matches("\\|[-:| ]+\\|")) {
                    continue;
                }
                if (!inTable) {
                    out.append("<table>");
                    inTable = true;
                }
                out.append("<tr>");
                for (String cell : line.substring(1, line.length() - 1).split("\\|")) {
                    out.append("<td>").append(escape(cell.trim())).append("</td>");
                }
                out.append("</tr>");
                continue;
            }
            if (inTable) {
                out.append("</table>");
                inTable = false;
            }
            if (line.startsWith("## ")) {
                out.append("<h2>").append(escape(line.substring(3))).append("</h2>");
            } else if (line.startsWith("# ")) {
                out.append("<h1>").append(escape(line.substring(2))).append("</h1>");
            } else if (!line.isBlank()) {
                out.append("<p>").append(escape(line)).append("</p>");
            }
        }
        if (inTable) {
            out.append("</table>");
        }
        return out.toString();
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
