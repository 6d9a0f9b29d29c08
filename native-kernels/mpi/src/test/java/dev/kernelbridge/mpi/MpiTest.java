package dev.kernelbridge.mpi;

import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real MPI jobs on loopback: mpirun starts 2 or 4 JVMs running {@link MpiScenario}, oversubscribed
 * on this machine's cores (RELIABILITY R16, R33, R35, R37). Every job has a hard limit; a job that
 * outlives it is a hang and fails the test. Where ci/test installed Open MPI
 * (kernelbridge.test.requireMpi), a missing mpirun fails instead of skipping.
 */
class MpiTest {
    /** A job that is still running after this long hangs. */
    private static final long HARD_LIMIT_SECONDS = 90;

    record Job(int exit, String output, long millis) { }

    @BeforeAll
    static void needsMpi() {
        boolean present = Files.isExecutable(Path.of("/usr/bin/mpirun")) && new MpiTransportProvider().probe().available();
        if (Boolean.getBoolean("kernelbridge.test.requireMpi")) {
            assertTrue(present, "ci/test installed Open MPI but mpirun or libmpi is missing: " + new MpiTransportProvider().probe().cause());
        }
        assumeTrue(present, "needs Open MPI (mpirun, libmpi.so.40)");
    }

    @Tag("R16")
    @Test
    void everyCollectiveOpAndDtypeIsExactOnTwoAndFourProcesses() throws Exception {
        for (int np : new int[] {2, 4}) {
            Job job = mpirun(np, "semantics");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("OK 240 checks on " + np + " ranks"), job.output());
        }
    }

    @Test
    void narrowFloatReductionsAreRankOrderAndTheNewTypesMoveOnTwoAndThreeProcesses() throws Exception {
        for (int np : new int[] {2, 3}) {
            Job job = mpirun(np, "dtypes");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("OK 73 dtype checks on " + np + " ranks"), job.output());
        }
        // The throw policy moves the same data with the non-blocking calls (MPI_Ialltoallv, MPI_Iallgatherv).
        Job job = mpirun(3, List.of("-x", "KERNELBRIDGE_MPI_ON_FAILURE=throw"), "dtypes");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 73 dtype checks on 3 ranks"), job.output());
    }

    @Test
    void severalRanksPerProcessAreHierarchicalAndExact() throws Exception {
        Job job = mpirun(2, "semantics", "2");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 240 checks on 4 ranks"), job.output());
    }

    @Test
    void narrowFloatsWithSeveralRanksPerProcessStillFoldInRankOrder() throws Exception {
        Job job = mpirun(2, "narrow-local", "2");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 16 narrow checks on 4 ranks"), job.output());
    }

    @Test
    void allToAllMovesEveryTypeExactlyOnTwoAndThreeProcesses() throws Exception {
        for (int np : new int[] {2, 3}) {
            Job job = mpirun(np, "alltoall");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("OK 25 alltoall checks on " + np + " ranks"), job.output());
        }
    }

    @Test
    void allToAllBeyondThePerCallLimitGoesInRoundsAndWithThrowPolicyNonBlocking() throws Exception {
        // A limit of 7 elements per rank pair (MPI's is 2^31-1) sends blocks of up to 3001 in rounds,
        // through the packed path; the throw policy uses MPI_Ialltoallv.
        Job job = mpirun(3, List.of("-x", "KERNELBRIDGE_MPI_ALLTOALL_PIECE=7", "-x", "KERNELBRIDGE_MPI_ON_FAILURE=throw"), "alltoall");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 25 alltoall checks on 3 ranks"), job.output());
    }

    @Test
    void allToAllWithSeveralRanksPerProcessIsExact() throws Exception {
        Job job = mpirun(2, "alltoall", "2");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 25 alltoall checks on 4 ranks"), job.output());
    }

    @Test
    void anAllToAllPairMismatchIsReportedOnEveryProcessNamingBothRanks() throws Exception {
        for (String local : new String[] {"1", "2"}) {
            Job job = mpirun(2, "alltoall-mismatch", local);
            assertEquals(4, job.exit(), job.output());
            String words = "rank 0 sends 4 elements to rank 1, but rank 1 expects 5 from rank 0";
            assertEquals(2, job.output().split("caught CollectiveMismatchException", -1).length - 1, "one report per process:\n" + job.output());
            assertTrue(job.output().contains(words), job.output());
        }
    }

    @Tag("R33")
    @Test
    void aRankThatNeverArrivesIsNamedAndTheJobEndsAtTheDeadline() throws Exception {
        Job job = mpirun(4, "silent-rank");
        assertNotEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("rank(s) [1] did not arrive"), job.output());
        assertTrue(job.output().contains("aborting the MPI job"), job.output());
        assertTrue(job.millis() < 60_000, "ended in " + job.millis() + " ms");
    }

    @Tag("R33")
    @Test
    void aKilledRankEndsTheJobInsteadOfHangingIt() throws Exception {
        Job job = mpirun(2, "killed-rank");
        assertNotEquals(0, job.exit(), job.output());
        assertTrue(job.millis() < 60_000, "ended in " + job.millis() + " ms");
    }

    @Tag("R34")
    @Test
    void anAbortThatHangsEscalatesToAFlightRecordAndExitCodeFive() throws Exception {
        // R34: rank 1 never arrives at call #3; rank 0 times out after 2 s and aborts, but its
        // MPI_Abort hangs (injected). 2 s later the second deadline dumps the last calls and exits 5.
        Job job = mpirun(2, List.of("-x", "KERNELBRIDGE_MPI_FAULTS=abort-hangs", "-x", "KERNELBRIDGE_MPI_ABORT_TIMEOUT=2s"), "stuck-abort");
        String out = job.output();
        assertTrue(out.contains("MPI_Abort did not end the process within PT2S; exiting with code 5"), out);
        assertTrue(out.contains("Last 4 collective(s) of MPI rank 0 of 2"), out);
        assertTrue(out.contains("#0 all_reduce(f32, count 1024, sum) as call #0: started") && out.contains("ms, ok"), out);
        assertTrue(out.contains("#3 all_reduce(f32, count 1024, sum) as call #3: started")
                && out.contains("CollectiveTimeoutException: MPI rank 0: allReduce call #3 timed out: rank(s) [1] did not arrive"), out);
        assertEquals(MpiTransport.ESCALATION_CODE, job.exit(), out);
        assertTrue(job.millis() < 60_000, "ended in " + job.millis() + " ms");
    }

    @Tag("R35")
    @Test
    void aMismatchedCallIsReportedOnEveryRankBeforeDataMoves() throws Exception {
        Job job = mpirun(2, "mismatch");
        assertNotEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("MPI collective mismatch at call #0"), job.output());
        assertTrue(job.output().contains("count 1024") && job.output().contains("count 2048"), job.output());
    }

    @Test
    void withThePolicyThrowTheCallerGetsTheTimeout() throws Exception {
        Job job = mpirun(2, List.of("-x", "KERNELBRIDGE_MPI_ON_FAILURE=throw"), "caught");
        assertTrue(job.output().contains("caught CollectiveTimeoutException") && job.output().contains("rank(s) [1]"), job.output());
        assertTrue(!job.output().contains("aborting the MPI job"), job.output());
    }

    @Tag("R19")
    @Test
    void aTimedOutCallsMemoryStaysWithMpiUntilItCompletesTheCall() throws Exception {
        // Guarded memory: the old code freed the call's memory (and left MPI the caller's freed buffers),
        // and rank 0 died with SIGSEGV when the late data arrived.
        Job job = mpirun(2, List.of("-x", "KERNELBRIDGE_MPI_ON_FAILURE=throw", "-x", "KERNELBRIDGE_DEBUG_GUARDED_MEMORY=true"), "late-data");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("timed out in the data exchange"), job.output());
        assertTrue(job.output().contains("OK late data landed in retired memory"), job.output());
    }

    @Tag("R38")
    @Test
    void twoGroupsOfOneProcessUsedAtOnceNeverTakeEachOthersCalls() throws Exception {
        for (String policy : List.of("abort", "throw")) {
            Job job = mpirun(2, List.of("-x", "KERNELBRIDGE_MPI_ON_FAILURE=" + policy), "two-groups");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("OK two groups, 40 verified calls"), job.output());
        }
    }

    @Tag("R38")
    @Test
    void theLastOfTwoBridgesFinalizesMpiOnce() throws Exception {
        Job job = mpirun(2, "two-bridges");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK two bridges, MPI finalized once by the last"), job.output());
    }

    @Tag("R35")
    @Test
    void theCliAllReduceJobIssuesTheSameCallsOnEveryRank() throws Exception {
        // Its warm-up stops on a time budget that each process measures on its own clock: unless the
        // ranks agree when to stop, they issue different numbers of collectives and the job times out.
        for (int run = 0; run < 2; run++) {
            Job job = mpirunMain(3, "dev.kernelbridge.cli.Main",
                    "allreduce", "--backend", "mpi", "--count", "1000003", "--dtype", "f64", "--op", "sum", "--verify", "--json");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("\"ranks\":3") && job.output().contains("\"verified\":true"), job.output());
        }
    }

    @Tag("R35")
    @Test
    void theCliMoeLayerVerifiesWithOneRankPerProcess() throws Exception {
        // Dispatch and combine are MPI_Alltoallv between the processes; each checks its own tokens against
        // the F64 host reference and the verdict is all-reduced. Three processes split 5 experts unevenly.
        for (int np : new int[] {2, 3}) {
            Job job = mpirunMain(np, "dev.kernelbridge.cli.Main", "moe", "--backend", "mpi", "--experts", "5", "--top-k", "2",
                    "--tokens", "101", "--hidden", "40", "--ffn", "24", "--dtype", np == 2 ? "f32" : "bf16", "--iterations", "2",
                    "--verify", "--json");
            assertEquals(0, job.exit(), job.output());
            assertTrue(job.output().contains("\"ranks\":" + np) && job.output().contains("\"verified\":true"), job.output());
            assertEquals(1, job.output().split("\"job\":\"moe\"", -1).length - 1, "one report, from rank 0: " + job.output());
        }
    }

    private static Job mpirun(int np, String... args) throws IOException, InterruptedException {
        return mpirun(np, List.of(), args);
    }

    private static Job mpirun(int np, List<String> mpiOptions, String... args) throws IOException, InterruptedException {
        return mpirunMain(np, mpiOptions, MpiScenario.class.getName(), args);
    }

    private static Job mpirunMain(int np, String mainClass, String... args) throws IOException, InterruptedException {
        return mpirunMain(np, List.of(), mainClass, args);
    }

    private static Job mpirunMain(int np, List<String> mpiOptions, String mainClass, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", String.valueOf(np), "--oversubscribe"));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.add("--allow-run-as-root"); // CI runs as root
        }
        cmd.addAll(mpiOptions);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(System.getProperty("kernelbridge.jvm.flags", "--enable-native-access=ALL-UNNAMED").split(" ")));
        cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("surefire.test.class.path",
                System.getProperty("java.class.path")), mainClass));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile("mpirun", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMPI_MCA_rmaps_base_oversubscribe", "1");
        long t0 = System.nanoTime();
        Process p = pb.start();
        boolean ended = p.waitFor(HARD_LIMIT_SECONDS, TimeUnit.SECONDS);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Files.deleteIfExists(log);
        assertTrue(ended, "the MPI job hung (still running after " + HARD_LIMIT_SECONDS + " s):\n" + output);
        return new Job(p.exitValue(), output, (System.nanoTime() - t0) / 1_000_000);
    }
}
