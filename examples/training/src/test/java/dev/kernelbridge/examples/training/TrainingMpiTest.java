package dev.kernelbridge.examples.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer as one rank per process under mpirun: the loss curve is the same bits as the in-process
 * run's, and a job whose rank is killed with SIGKILL mid-run is resumed from its checkpoint to the same
 * bits as the uninterrupted run (RELIABILITY R28, R33, R35). Every job has a hard time limit.
 */
class TrainingMpiTest {
    private static final long HARD_LIMIT_SECONDS = 120;
    private static final List<String> MODEL = List.of("--batch", "64", "--inputs", "32", "--hidden", "64", "--classes", "8",
            "--lr", "0.003", "--seed", "11");

    @BeforeAll
    static void needsMpi() {
        boolean present = Files.isExecutable(Path.of("/usr/bin/mpirun"));
        if (Boolean.getBoolean("kernelbridge.test.requireMpi")) {
            assertTrue(present, "ci/test installed Open MPI but mpirun is missing");
        }
        assumeTrue(present, "needs Open MPI (mpirun)");
    }

    /** The in-process run of the same model: the reference curve, as the JSON summary prints it. */
    private static String referenceLosses(int steps) throws InterruptedException {
        TrainConfig c = new TrainConfig(steps, 11, List.of("cpu:0", "cpu:0"), false, null, 64, 32, 64, 2, 8, 0.003, null, 5, 0, false);
        try (KernelBridge kb = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"))) {
            Trainer.Result r = new Trainer(kb, c, Trainer.Listener.SILENT).run();
            return TrainMain.Json.write(TrainMain.summary(c, r).get("losses"));
        }
    }

    private static String losses(String output) {
        Matcher m = Pattern.compile("\"losses\":(\\[[^\\]]*\\])").matcher(output);
        assertTrue(m.find(), "no summary line in:\n" + output);
        return m.group(1);
    }

    @Test
    void twoProcessesTrainToTheSameBitsAsTwoInProcessRanks() throws Exception {
        Job job = start(2, List.of("--steps", "30", "--json")).await();
        assertEquals(0, job.exit, job.output);
        assertTrue(job.output.contains("\"ranks\":2"), job.output);
        assertEquals(referenceLosses(30), losses(job.output));
    }

    @Test
    void aRankKilledWithSigkillIsResumedFromItsCheckpointToTheSameBits(@TempDir Path dir) throws Exception {
        int steps = 600;
        List<String> args = List.of("--steps", String.valueOf(steps), "--checkpoint", dir.toString(), "--checkpoint-every", "5", "--json");
        Running first = start(2, args);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (Checkpoint.list(dir).isEmpty() || Checkpoint.list(dir).getFirst().getFileName().toString().compareTo("step-000000010.ckpt") < 0) {
            assertTrue(first.process.isAlive(), "the job ended before it could be killed");
            assertTrue(System.nanoTime() < deadline, "no checkpoint of step 10 within 240 s");
            Thread.sleep(5);
        }
        ProcessHandle rank = first.process.descendants().filter(p -> p.info().command().orElse("").endsWith("java")).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("no rank process under mpirun"));
        assertTrue(rank.destroyForcibly(), "SIGKILL a rank");
        Job killed = first.await();
        assertNotEquals(0, killed.exit, "a job with a killed rank must fail:\n" + killed.output);
        assertTrue(!killed.output.contains("\"losses\""), "the killed job must not have finished:\n" + killed.output);

        Job resumed = start(2, append(args, "--resume")).await();
        assertEquals(0, resumed.exit, resumed.output);
        Matcher from = Pattern.compile("\"resumedFrom\":(\\d+)").matcher(resumed.output);
        assertTrue(from.find() && Long.parseLong(from.group(1)) >= 10, resumed.output);
        assertEquals(referenceLosses(steps), losses(resumed.output));
    }

    private static List<String> append(List<String> list, String more) {
        List<String> out = new ArrayList<>(list);
        out.add(more);
        return out;
    }

    private record Job(int exit, String output) { }

    private record Running(Process process, Path log) {
        Job await() throws IOException, InterruptedException {
            boolean ended = process.waitFor(HARD_LIMIT_SECONDS, TimeUnit.SECONDS);
            if (!ended) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            Files.deleteIfExists(log);
            assertTrue(ended, "the MPI job hung (still running after " + HARD_LIMIT_SECONDS + " s):\n" + output);
            return new Job(process.exitValue(), output);
        }
    }

    private static Running start(int np, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", String.valueOf(np), "--oversubscribe"));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.add("--allow-run-as-root"); // CI runs as root
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(System.getProperty("kernelbridge.jvm.flags", "--enable-native-access=ALL-UNNAMED").split(" ")));
        cmd.addAll(List.of("-XX:+UseSerialGC", "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), TrainMain.class.getName(),
                "--backend", "mpi"));
        cmd.addAll(MODEL);
        cmd.addAll(args);
        Path log = Files.createTempFile("mpirun-train", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMPI_MCA_rmaps_base_oversubscribe", "1");
        pb.environment().put("KERNELBRIDGE_BACKEND", "cpu"); // (mpirun takes a -D... argument for itself, even after the program)
        return new Running(pb.start(), log);
    }
}
