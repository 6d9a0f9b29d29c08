package dev.kernelbridge.examples.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer's promises, on real devices (the CPU backend and PoCL): the loss falls; the loss curve is
 * the same bits whichever devices the ranks run on, how many ranks there are, and whatever faults the
 * pool routes around; a run stopped as a crash would and resumed from its checkpoint ends on the same
 * bits; a damaged checkpoint is never loaded. (RELIABILITY R01 exact results, R24 failover, R28
 * checkpoints, R35 determinism.)
 */
class TrainingTest {
    private static final int STEPS = 40;

    private static TrainConfig config(List<String> devices, int steps, Path checkpoint, int stopAfter, boolean resume) {
        return new TrainConfig(steps, 11, devices, false, null, 64, 32, 64, 2, 8, 0.003, checkpoint, 5, stopAfter, resume);
    }

    private static Trainer.Result train(Config settings, TrainConfig config) throws InterruptedException {
        try (KernelBridge kb = KernelBridge.open(settings)) {
            return new Trainer(kb, config, Trainer.Listener.SILENT).run();
        }
    }

    private static Config cpuOnly() {
        return Config.defaults().with(Config.BACKEND, "cpu");
    }

    private static boolean openClHere() {
        try (KernelBridge kb = KernelBridge.open(Config.defaults())) {
            boolean present = kb.devices().stream().anyMatch(d -> d.id().equals("opencl:0"));
            if (Boolean.getBoolean("kernelbridge.test.requireOpenCl")) {
                assertTrue(present, "ci/test installed PoCL but there is no opencl:0");
            }
            return present;
        }
    }

    /** Every loss the same bits, step by step. */
    static void assertSameBits(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": number of steps");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Double.doubleToRawLongBits(expected[i]), Double.doubleToRawLongBits(actual[i]),
                    what + ": loss at step " + (i + 1) + " is " + actual[i] + ", expected " + expected[i]);
        }
    }

    @Test
    void theLossFallsByAWideMarginAndAccuracyIsFarAboveChance() throws Exception {
        Trainer.Result r = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), 150, null, 0, false));
        assertEquals(150, r.losses().length);
        double late = Arrays.stream(r.losses(), 140, 150).average().orElseThrow();
        assertTrue(late < 0.5 * r.firstLoss(), "loss " + r.firstLoss() + " -> " + late + " (mean of the last 10 steps)");
        double accuracy = Arrays.stream(r.accuracies(), 140, 150).average().orElseThrow();
        assertTrue(accuracy > 3.0 / 8, "accuracy " + accuracy + " with 8 classes (chance 0.125)");
    }

    @Test
    void theLossCurveIsTheSameBitsForAnyRankCount() throws Exception {
        double[] two = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, null, 0, false)).losses();
        assertSameBits(two, train(cpuOnly(), config(List.of("cpu:0"), STEPS, null, 0, false)).losses(), "1 rank");
        assertSameBits(two, train(cpuOnly(), config(List.of("cpu:0", "cpu:0", "cpu:0", "cpu:0"), STEPS, null, 0, false)).losses(), "4 ranks");
        assertSameBits(two, train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, null, 0, false)).losses(), "run to run");
    }

    @Test
    void theLossCurveIsTheSameBitsOnOpenClAndThroughFailuresHangsCorruptionAndALostDevice() throws Exception {
        assumeTrue(openClHere(), "needs an OpenCL device (PoCL)");
        double[] reference = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, null, 0, false)).losses();
        Config pool = Config.defaults().with(Config.BACKEND, "cpu,opencl");
        assertSameBits(reference, train(pool, config(List.of("cpu:0", "opencl:0"), STEPS, null, 0, false)).losses(), "cpu:0 + opencl:0");

        Config watched = pool.with(Config.GEMM_DEADLINE, "500ms").with(Config.HEALTH_PROBE, "20ms");
        Trainer.Result failing = train(watched.with(Config.FAULTS, "opencl:0=fail-every:1,times:3"),
                config(List.of("cpu:0", "opencl:0"), STEPS, null, 0, false));
        assertSameBits(reference, failing.losses(), "launch failures on opencl:0");
        assertTrue(failing.deviceFailures() >= 2 && failing.failovers() >= 2 && failing.quarantines() > 0, counts(failing));

        Trainer.Result hanging = train(watched.with(Config.FAULTS, "opencl:0=hang-every:40,times:2"),
                config(List.of("cpu:0", "opencl:0"), STEPS, null, 0, false));
        assertSameBits(reference, hanging.losses(), "hangs on opencl:0");
        assertTrue(hanging.timeouts() >= 1 && hanging.secondsLostToFaults() >= 0.5, counts(hanging));

        // The canary checks every GEMM, on a tile as large as C: a corrupt value anywhere is caught and the work re-run.
        Trainer.Result corrupting = train(watched.with(Config.FAULTS, "opencl:0=corrupt-every:25,times:3").with(Config.CANARY, "1")
                .with(Config.CANARY_TILE, "4096"), config(List.of("cpu:0", "opencl:0"), STEPS, null, 0, false));
        assertSameBits(reference, corrupting.losses(), "corrupt results on opencl:0");
        assertTrue(corrupting.canaryCatches() >= 1 && corrupting.quarantines() >= 1, counts(corrupting));

        Trainer.Result lost = train(pool.with(Config.FAULTS, "opencl:0=lose-at:20"), config(List.of("opencl:0", "opencl:0"), STEPS, null, 0, false));
        assertSameBits(reference, lost.losses(), "opencl:0 lost at its 20th launch");
        assertTrue(lost.failovers() > 0);
    }

    private static String counts(Trainer.Result r) {
        return "failures " + r.deviceFailures() + ", timeouts " + r.timeouts() + ", canary " + r.canaryCatches() + ", quarantines "
                + r.quarantines() + ", failovers " + r.failovers() + ", lost " + r.secondsLostToFaults() + " s";
    }

    @Test
    void aRunStoppedAsACrashWouldResumesToTheSameBitsOnAnyRankCount(@TempDir Path dir) throws Exception {
        double[] reference = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, null, 0, false)).losses();
        Trainer.Result stopped = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, dir, 17, false));
        assertTrue(stopped.stopped());
        assertEquals(List.of(Checkpoint.fileFor(dir, 15), Checkpoint.fileFor(dir, 10)), Checkpoint.list(dir), "the two newest are kept");

        Trainer.Result resumed = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, dir, 0, true));
        assertEquals(15, resumed.startStep(), "the newest checkpoint is at step 15; steps 16 and 17 are redone");
        assertSameBits(reference, resumed.losses(), "resumed at step 15");

        // The same checkpoint, resumed by four ranks with the same global batch: every sum is exact, so still the same bits.
        Path other = Files.createDirectories(dir.resolve("four"));
        train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, other, 12, false));
        assertSameBits(reference, train(cpuOnly(), config(List.of("cpu:0", "cpu:0", "cpu:0", "cpu:0"), STEPS, other, 0, true)).losses(),
                "2 ranks resumed as 4");
    }

    @Test
    void aTornOrDamagedCheckpointIsDetectedAndNeverLoaded(@TempDir Path dir) throws Exception {
        double[] reference = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, null, 0, false)).losses();
        train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, dir, 16, false));
        Path newest = Checkpoint.fileFor(dir, 15);
        byte[] bytes = Files.readAllBytes(newest);
        bytes[bytes.length / 2] ^= 0x10; // one flipped bit in the parameters
        Files.write(newest, bytes);
        assertThrows(java.io.IOException.class, () -> Checkpoint.decode(bytes));
        assertThrows(java.io.IOException.class, () -> Checkpoint.decode(Arrays.copyOf(bytes, bytes.length / 3)), "a torn write");

        Trainer.Result resumed = train(cpuOnly(), config(List.of("cpu:0", "cpu:0"), STEPS, dir, 0, true));
        assertEquals(10, resumed.startStep(), "the damaged step-15 checkpoint is skipped for step 10's");
        assertSameBits(reference, resumed.losses(), "resumed from the older checkpoint");
    }

    @Test
    void aCheckpointOfAnotherRunIsRefusedWithItsSettings(@TempDir Path dir) throws Exception {
        train(cpuOnly(), config(List.of("cpu:0"), STEPS, dir, 5, false));
        TrainConfig otherSeed = new TrainConfig(STEPS, 12, List.of("cpu:0"), false, null, 64, 32, 64, 2, 8, 0.003, dir, 5, 0, true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> train(cpuOnly(), otherSeed));
        assertTrue(e.getMessage().contains("holds another run (seed 11") && e.getMessage().contains("not this one (seed 12"), e.getMessage());
    }

    @Test
    void settingsThatWouldBreakExactnessOrTheContractAreRejectedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Mlp(new int[] {32, 1 << 16, 8}, 1).requireExact(64))
                .getMessage().startsWith("forward layer 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> config(List.of("cpu:0"), 10, null, 11, false))
                .getMessage().startsWith("--stop-after"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> config(List.of("cpu:0"), 10, null, 0, true))
                .getMessage().startsWith("--resume needs --checkpoint"));
        assertEquals(2, cli("--dtype", "bf16").exit);
        assertTrue(cli("--dtype", "bf16").err.contains("--dtype must be f64"));
        Cli odd = cli("--devices", "cpu:0,cpu:0,cpu:0", "--batch", "64", "--steps", "2");
        assertEquals(2, odd.exit, odd.err);
        assertTrue(odd.err.contains("--batch (64) must be a multiple of the number of ranks (3)"), odd.err);
        assertEquals(2, cli("--steps").exit);
        assertEquals(2, cli("--bogus", "1").exit);
    }

    @Test
    void theCliJobsLastJsonLineIsTheSummary(@TempDir Path dir) {
        Cli run = cli("--devices", "cpu:0,cpu:0", "--steps", "12", "--batch", "64", "--hidden", "64", "--inputs", "32", "--classes", "8",
                "--lr", "0.003", "--seed", "11", "--json", "--report", dir.toString());
        assertEquals(0, run.exit, run.err);
        String[] lines = run.out.strip().split("\n");
        assertTrue(lines.length > 2 && lines[0].startsWith("{\"event\":\"step\""), run.out);
        String last = lines[lines.length - 1];
        for (String field : List.of("\"steps\":12", "\"firstLoss\":", "\"finalLoss\":", "\"failovers\":0", "\"canaryCatches\":0",
                "\"samplesPerSecond\":", "\"losses\":[")) {
            assertTrue(last.contains(field), field + " in " + last);
        }
        assertTrue(Files.exists(dir.resolve("report.md")));
        assertTrue(Files.exists(dir.resolve("loss.png")), "the loss curve is drawn (ci/setup installs the fonts AWT needs)");
    }

    private record Cli(int exit, String out, String err) { }

    private static Cli cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int exit = TrainMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Cli(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
