package dev.kernelbridge.examples.training;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.IntStream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The end-of-run report: the loss curve as a PNG and a short Markdown page (throughput per rank, time lost to faults). */
final class TrainingReport {
    private TrainingReport() { }

    /** Writes {@code dir/loss.png} and {@code dir/report.md}; returns the latter. */
    static Path write(Path dir, TrainConfig config, Trainer.Result r) {
        try {
            Files.createDirectories(dir);
            String chart = drawLossCurve(dir.resolve("loss.png"), r);
            StringBuilder md = new StringBuilder();
            md.append("# Training report\n\n");
            md.append(String.format(Locale.ROOT, "MLP %s, global batch %d, seed %d, learning rate %s; %d rank(s)%s.%n%n",
                    java.util.Arrays.toString(config.widths()), config.globalBatch(), config.seed(), config.learningRate(), r.ranks(),
                    r.startStep() > 0 ? ", resumed at step " + r.startStep() : ""));
            md.append(String.format(Locale.ROOT, "- loss %s at step 1, %s at step %d; accuracy %.1f%%%n", r.firstLoss(), r.finalLoss(),
                    r.losses().length, 100 * r.finalAccuracy()));
            md.append(String.format(Locale.ROOT, "- %.0f samples/s over the %d step(s) run here; gradient all-reduce %.1f%% of a step%n",
                    r.samplesPerSecond(), r.stepsRun(), 100 * r.allReduceShare()));
            md.append(String.format(Locale.ROOT, "- faults: %d failover(s), %d canary catch(es), %d quarantine(s), %.3f s lost in failed attempts%n%n",
                    r.failovers(), r.canaryCatches(), r.quarantines(), r.secondsLostToFaults()));
            md.append(chart).append("\n\n");
            md.append("| rank | device | compute s | all-reduce s |\n|---:|---|---:|---:|\n");
            for (Trainer.RankFigures f : r.rankFigures()) {
                md.append(String.format(Locale.ROOT, "| %d | %s | %.3f | %.3f |%n", f.rank(), f.device(), f.computeSeconds(), f.allReduceSeconds()));
            }
            Path report = dir.resolve("report.md");
            Files.writeString(report, md);
            return report;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report into " + dir, e);
        }
    }

    private static String drawLossCurve(Path png, Trainer.Result r) {
        double[] steps = IntStream.rangeClosed(1, r.losses().length).asDoubleStream().toArray();
        try {
            XYChart chart = new XYChartBuilder().width(800).height(450).title("Training loss").xAxisTitle("step").yAxisTitle("cross-entropy").build();
            chart.getStyler().setLegendVisible(false);
            chart.addSeries("loss", steps, r.losses()).setMarker(SeriesMarkers.NONE);
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
            return "![loss curve](loss.png)";
        } catch (IOException | RuntimeException | Error e) { // AWT without fonts (fontconfig) cannot draw text
            return "(loss.png not drawn: " + e + "; `apt-get install fontconfig fonts-dejavu-core` gives AWT its fonts)";
        }
    }
}
