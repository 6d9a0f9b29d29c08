package dev.kernelbridge.examples.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.KernelBridge;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 30's graded action, as the trainer takes it: shards follow measured speed without changing a
 * bit of the loss curve, and a drain or warning from the pool's foresight rules makes the trainer
 * checkpoint at the end of the step that hears it (and every step while the device stays drained), the
 * run going on. Correctness only: bits, steps and files, never wall-clock time.
 */
class TrainingForesightTest {
    private static final int STEPS = 30;

    private static TrainConfig config(List<String> devices, int steps, int rebalanceEvery) {
        return new TrainConfig(steps, 11, devices, false, null, 64, 32, 64, 2, 8, 0.003, null, 5, 0, false, false, rebalanceEvery);
    }

    private static Config cpuOnly() {
        return Config.defaults().with(Config.BACKEND, "cpu");
    }

    @Test
    void theCutFollowsSpeedGivesEveryRankASampleAndAddsUp() {
        assertArrayEquals(new int[] {32, 32}, ShardCut.cut(64, new double[] {1e-4, 1e-4}));
        assertArrayEquals(new int[] {48, 16}, ShardCut.cut(64, new double[] {1e-4, 3e-4}), "a 3x slower rank gets a third as much");
        assertArrayEquals(new int[] {63, 1}, ShardCut.cut(64, new double[] {1e-6, 1}), "never below one sample");
        int[] three = ShardCut.cut(100, new double[] {1, 1, 1});
        assertEquals(100, Arrays.stream(three).sum());
        assertArrayEquals(new int[] {34, 33, 33}, three, "remainders go to the lower rank on a tie");
        assertArrayEquals(ShardCut.equal(64, 3), new int[] {22, 21, 21});

        // Noise below the gain threshold makes no churn; a lasting slowdown re-cuts.
        ShardCut c = new ShardCut(64, 2, 2);
        for (int step = 0; step < 10; step++) {
            c.measured(step, new double[] {1e-4, 1.01e-4});
        }
        assertEquals(0, c.recuts());
        for (int step = 10; step < 30; step++) {
            c.measured(step, new double[] {1e-4, 2e-4});
        }
        assertTrue(c.recuts() >= 1 && c.size(1) < 26 && c.size(0) + c.size(1) == 64, Arrays.toString(c.sizes()));
    }

    @Test
    void anUnevenOrMeasuredCutGivesTheSameLossBitsAsEqualShards() throws Exception {
        double[] equal;
        try (KernelBridge kb = KernelBridge.open(cpuOnly())) {
            equal = new Trainer(kb, config(List.of("cpu:0", "cpu:0"), STEPS, 0), Trainer.Listener.SILENT).run().losses();
        }
        try (KernelBridge kb = KernelBridge.open(cpuOnly())) {
            Trainer.Result uneven = new Trainer(kb, config(List.of("cpu:0", "cpu:0"), STEPS, 0), Trainer.Listener.SILENT).fixedCut(7, 57).run();
            assertArrayEquals(new int[] {7, 57}, uneven.balance().finalCut());
            TrainingTest.assertSameBits(equal, uneven.losses(), "cut 7 + 57");
        }
        try (KernelBridge kb = KernelBridge.open(cpuOnly())) {
            Trainer.Result four = new Trainer(kb, config(List.of("cpu:0", "cpu:0", "cpu:0", "cpu:0"), STEPS, 0), Trainer.Listener.SILENT)
                    .fixedCut(1, 2, 30, 31).run();
            TrainingTest.assertSameBits(equal, four.losses(), "cut 1 + 2 + 30 + 31");
        }
        // Measured: rank 1 is made 4x slower (it waits 3x its compute), so the cut moves (which way is ShardCut's
        // test above: here the timing is the machine's, and only the bits are asserted).
        try (KernelBridge kb = KernelBridge.open(cpuOnly())) {
            Trainer.Result measured = new Trainer(kb, config(List.of("cpu:0", "cpu:0"), STEPS, 2), Trainer.Listener.SILENT).slowRank(1, 4).run();
            int[] cut = measured.balance().finalCut();
            assertTrue(measured.balance().recuts() >= 1, "a 4x slower rank moves the cut: " + Arrays.toString(cut));
            TrainingTest.assertSameBits(equal, measured.losses(), "measured cut " + Arrays.toString(cut));
        }
    }

    /** What a run's listener heard: the steps finished and the checkpoints written, with why. */
    private static final class Heard implements Trainer.Listener {
        final AtomicLong lastStep = new AtomicLong();
        final List<long[]> checkpoints = new CopyOnWriteArrayList<>(); // {step}
        final List<String> whys = new CopyOnWriteArrayList<>();

        @Override
        public void step(long step, long total, double loss, double accuracy, double samplesPerSecond, String health) {
            lastStep.set(step);
        }

        @Override
        public void checkpoint(long step, Path file, String why) {
            checkpoints.add(new long[] {step});
            whys.add(why);
        }

        long firstWarningCheckpoint() {
            for (int i = 0; i < whys.size(); i++) {
                if (whys.get(i).startsWith("checkpoint on warning")) {
                    return checkpoints.get(i)[0];
                }
            }
            return -1;
        }
    }

    /** A run under a fault plan that ends in a foresight event; returns {losses, the step during which the event was heard}. */
    private record Warned(Trainer.Result result, Heard heard, long eventDuringStep, String action) { }

    private static Warned warnedRun(Config settings, TrainConfig config) throws InterruptedException {
        Heard heard = new Heard();
        List<long[]> at = new ArrayList<>();
        List<String> actions = new CopyOnWriteArrayList<>();
        try (KernelBridge kb = KernelBridge.open(settings);
             AutoCloseable s = kb.subscribe(e -> {
                 if (e instanceof DispatchEvent.Foresight f && at.isEmpty()) {
                     at.add(new long[] {heard.lastStep.get() + 1}); // delivered on the events thread: the step then in progress, or later
                     actions.add(f.action());
                 }
             })) {
            Trainer.Result r = new Trainer(kb, config, heard).run();
            assertTrue(!at.isEmpty(), "the fault plan's corrected-error ramp should have raised a foresight event");
            return new Warned(r, heard, at.getFirst()[0], actions.getFirst());
        } catch (InterruptedException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aTrendWarningOnTheOnlyDeviceCheckpointsWithinOneStepAndTheRunGoesOn(@TempDir Path dir) throws Exception {
        // Both ranks on cpu:0, the only device: the trend rule cannot drain it, so it warns. 16 launches a step:
        // the hard fault (launch 400) would land in step 25; the run ends before it.
        TrainConfig c = new TrainConfig(24, 11, List.of("cpu:0", "cpu:0"), false, null, 64, 32, 64, 2, 8, 0.003, dir, 100, 0, false);
        double[] clean;
        try (KernelBridge kb = KernelBridge.open(cpuOnly())) {
            clean = new Trainer(kb, c.withCheckpoints(null, 0, false), Trainer.Listener.SILENT).run().losses();
        }
        Warned w = warnedRun(cpuOnly().with(Config.FAULTS, "cpu:0=ce-trend:200,seed:3"), c);
        assertEquals("warn", w.action());
        long at = w.heard().firstWarningCheckpoint();
        assertTrue(at >= 1, "a checkpoint on warning was written: " + w.heard().whys);
        assertTrue(at <= w.eventDuringStep() + 1, "checkpoint after step " + at + ", event heard during step " + w.eventDuringStep());
        assertTrue(w.heard().whys.stream().anyMatch(s -> s.startsWith("checkpoint on warning: cpu:0 warned (trend)")), w.heard().whys.toString());
        assertEquals(1, w.result().balance().warningCheckpoints(), "a warning that drains nothing checkpoints once");
        TrainingTest.assertSameBits(clean, w.result().losses(), "the warned run");
        assertEquals(List.of(Checkpoint.fileFor(dir, at)), Checkpoint.list(dir));
    }

    @Test
    void aDrainCheckpointsWithinOneStepAndEveryStepAfterAndTheResumeIsTheCleanRunsBits(@TempDir Path dir) throws Exception {
        assumeTrue(openClHere(), "needs an OpenCL device (PoCL) beside cpu:0 to drain one");
        Config pool = Config.defaults().with(Config.BACKEND, "cpu,opencl");
        // 8 launches a step on opencl:0: its hard fault (launch 400) would land in step 50; the drain comes well before.
        TrainConfig c = new TrainConfig(60, 11, List.of("cpu:0", "opencl:0"), false, null, 64, 32, 64, 2, 8, 0.003, dir, 100, 0, false);
        double[] clean;
        try (KernelBridge kb = KernelBridge.open(pool)) {
            clean = new Trainer(kb, c.withCheckpoints(null, 0, false), Trainer.Listener.SILENT).run().losses();
        }
        Warned w = warnedRun(pool.with(Config.FAULTS, "opencl:0=ce-trend:200,seed:5"), c.withCheckpoints(dir, 45, false));
        assertEquals("drain", w.action());
        long at = w.heard().firstWarningCheckpoint();
        assertTrue(at >= 1 && at <= w.eventDuringStep() + 1, "checkpoint after step " + at + ", drain heard during step " + w.eventDuringStep());
        assertTrue(at < 45, "drained at step " + at);
        assertTrue(w.heard().whys.getFirst().startsWith("checkpoint on warning: opencl:0 drained (trend)"), w.heard().whys.toString());
        assertEquals(45 - at + 1, w.result().balance().warningCheckpoints(), "every step from the drain to the crash: " + w.heard().whys);
        assertEquals(Checkpoint.fileFor(dir, 45), Checkpoint.list(dir).getFirst(), "the run stopped after step 45 as a crash would: nothing lost");

        try (KernelBridge kb = KernelBridge.open(pool)) {
            Trainer.Result resumed = new Trainer(kb, c.withCheckpoints(dir, 0, true), Trainer.Listener.SILENT).run();
            assertEquals(45, resumed.startStep());
            TrainingTest.assertSameBits(clean, resumed.losses(), "drained, crashed after step 45, resumed");
        }
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
}
