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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * MPI jobs across a real TCP network (RELIABILITY R16, R33, R36, R37): three "hosts" on this
 * machine, each a network namespace with a veth link to a bridge (ci/netns-hosts), two ranks on
 * each, launched by mpirun through a remote agent that runs the orted inside the host's namespace;
 * shared memory is off, so every byte between ranks crosses TCP. Faults are made with iproute2 from
 * outside: blackhole routes between hosts (every packet lost, as on a cut link, while mpirun still
 * reaches each host) and a tbf rate limit (a slow link; this kernel has no sch_netem, see
 * ci/netns-hosts). Runs where namespaces can be made (root with iproute2), else is skipped with the
 * reason. The hosts are removed after the tests, and by a shutdown hook if the JVM ends early.
 */
class MultiHostTest {
    private static final long HARD_LIMIT_SECONDS = 90;
    private static final int HOSTS = 3, RANKS_PER_HOST = 2, NP = HOSTS * RANKS_PER_HOST;
    /** How long a rank may take past its deadline to report (JVMs on 2 shared cores, output through mpirun). */
    private static final long GRACE_MILLIS = 5_000;

    private static Path script;
    private static String prefix;
    private static String subnet;
    private static Path hostfile;
    private static Thread cleanup;

    record Job(int exit, String output, long millis) { }

    @BeforeAll
    static void makeHosts() throws Exception {
        boolean mpi = Files.isExecutable(Path.of("/usr/bin/mpirun")) && new MpiTransportProvider().probe().available();
        if (Boolean.getBoolean("kernelbridge.test.requireMpi")) {
            assertTrue(mpi, "ci/test installed Open MPI but mpirun or libmpi is missing: " + new MpiTransportProvider().probe().cause());
        }
        assumeTrue(mpi, "needs Open MPI (mpirun, libmpi.so.40)");
        script = repositoryRoot().resolve("ci/netns-hosts");
        Process probe = new ProcessBuilder(script.toString(), "probe").redirectErrorStream(true).start();
        String why = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assumeTrue(probe.waitFor() == 0, "multi-host tests need network namespaces: " + why);
        long pid = ProcessHandle.current().pid();
        prefix = "kbt" + pid % 100_000;
        subnet = "10.213." + pid % 250;
        cleanup = new Thread(MultiHostTest::removeHosts);
        Runtime.getRuntime().addShutdownHook(cleanup);
        removeHosts(); // a previous JVM with the same pid may have left them
        Process up = new ProcessBuilder(script.toString(), "up", prefix, subnet, String.valueOf(HOSTS), String.valueOf(RANKS_PER_HOST))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String lines = new String(up.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, up.waitFor(), "ci/netns-hosts up failed");
        hostfile = Files.createTempFile("hosts", ".txt");
        Files.writeString(hostfile, lines);
    }

    @AfterAll
    static void removeHostsAfter() throws IOException {
        if (cleanup != null) {
            removeHosts();
            Runtime.getRuntime().removeShutdownHook(cleanup);
        }
        if (hostfile != null) {
            Files.deleteIfExists(hostfile);
        }
    }

    private static void removeHosts() {
        try {
            new ProcessBuilder(script.toString(), "down", prefix).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor(30, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            System.err.println("MultiHostTest: could not remove the namespaces " + prefix + "-*: " + e);
        }
    }

    @Tag("R16")
    @Test
    void everyCollectiveAcrossThreeHostsIsBitwiseTheSingleHostResult() throws Exception {
        Job oneHost = mpirun(false, List.of(), null, "digests");
        Job threeHosts = mpirun(true, List.of(), null, "digests");
        assertEquals(0, oneHost.exit(), oneHost.output());
        assertEquals(0, threeHosts.exit(), threeHosts.output());
        List<String> expected = digests(oneHost.output()), got = digests(threeHosts.output());
        assertEquals(8, expected.size(), oneHost.output());
        assertEquals(expected, got, "the 3-host results differ from the 1-host job's");
    }

    @Tag("R36")
    @Test
    void aSlowLinkAndABriefOutageShorterThanTheDeadlineStillGiveExactResults() throws Exception {
        // 12 verified calls, 10 s deadline each; at the pause after call 2 host 2's link drops to
        // 8 Mbit/s and is cut; the ranks go on once it is cut, and for 1.5 s their calls lose every
        // packet to the other hosts (TCP retransmits), then the link comes back.
        Path resume = resumeFile();
        Job job = mpirun(true, List.of("-x", "KB_RESUME_FILE=" + resume), out -> out.contains("PAUSE") && fault(() -> {
            ip("tc", "-n", host(2), "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "8mbit", "burst", "32kb", "latency", "2s");
            cut(2, true);
            resume(resume);
            sleep(1500);
            cut(2, false);
        }), "steady", "1", "12", "2", "10000");
        ip("tc", "-n", host(2), "qdisc", "del", "dev", "eth0", "root");
        assertEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("OK 12 calls on 6 ranks"), job.output());
    }

    @Tag("R36")
    @Test
    void aHostCutOffLongerThanTheDeadlineFailsEveryRankInTimeNamingTheUnreachableRanks() throws Exception {
        Path reports = Files.createTempDirectory("ranks");
        long deadline = 3_000;
        Job job;
        try {
            // The ranks go on only once host 2 is cut off, so their next call meets the cut however slow the machine is.
            Path resume = resumeFile();
            job = mpirun(true, List.of("-x", "KERNELBRIDGE_MPI_ON_FAILURE=throw", "-x", "KB_REPORT_DIR=" + reports, "-x", "KB_RESUME_FILE=" + resume),
                    out -> out.contains("PAUSE") && fault(() -> {
                        cut(2, true);
                        resume(resume);
                    }), "steady", "1", "6", "1", String.valueOf(deadline));
        } finally {
            cut(2, false);
        }
        for (int r = 0; r < NP; r++) {
            Path report = reports.resolve("rank-" + r);
            assertTrue(Files.exists(report), "rank " + r + " did not report a failure:\n" + job.output());
            String line = Files.readString(report).strip();
            Matcher m = Pattern.compile("FAILED rank (\\d+) after (\\d+) ms: CollectiveTimeoutException: .*rank\\(s\\) \\[([0-9, ]+)\\] did not arrive").matcher(line);
            assertTrue(m.find(), line);
            long millis = Long.parseLong(m.group(2));
            assertTrue(millis >= deadline - 100 && millis <= deadline + GRACE_MILLIS, "rank " + r + " failed after " + millis + " ms: " + line);
            String named = r / RANKS_PER_HOST == 2 ? "0, 1, 2, 3" : "4, 5";
            assertEquals(named, m.group(3), "rank " + r + " should name the ranks it cannot reach: " + line);
            Files.delete(report);
        }
        Files.delete(reports);
        assertNotEquals(0, job.exit(), job.output());
    }

    @Tag("R33")
    @Test
    void aHostWhoseProcessesAreKilledMidCallEndsTheJobWithoutAHang() throws Exception {
        // Calls run back to back (10 s deadline); after call 2's pause every process of host 2 (its
        // orted and both ranks) is killed with SIGKILL while the others are in their next calls.
        Job job = mpirun(true, List.of(), out -> out.contains("CALL 4 ") && fault(() -> {
            for (String pid : ip("netns", "pids", host(2)).split("\\s+")) {
                if (!pid.isBlank()) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
        }), "steady", "1", "100000", "-1", "10000");
        // Open MPI's runtime ends the job as soon as it loses the host's daemon (its agent process
        // ends), before any deadline, with its own exit code (1 or 205 in Open MPI 4.1, not ours): no
        // survivor waits for its deadline.
        assertNotEquals(0, job.exit(), job.output());
        assertTrue(job.output().contains("unable to reliably start one or more daemons")
                || job.output().contains("lost communication with a remote daemon") || job.output().contains("aborting the MPI job"), job.output());
        assertTrue(job.millis() < 60_000, "ended in " + job.millis() + " ms");
    }

    @Tag("R37")
    @Test
    void aJobOfTheWrongSizeIsRefusedByEveryRankBeforeAnyCall() throws Exception {
        // Every process expects 4 (kernelbridge.mpi.world.size) but mpirun started 6: none joins, and the
        // job ends with exit code 3 before any call (no digest; a deadline would have ended it with a
        // CollectiveTimeoutException instead). No wall-clock bound: six JVMs may start slowly on a busy machine.
        Job job = mpirun(true, List.of("-x", "KERNELBRIDGE_MPI_WORLD_SIZE=4"), null, "digests");
        assertEquals(MpiTransport.ABORT_CODE, job.exit(), job.output());
        assertTrue(job.output().contains("expects a job of 4 processes (kernelbridge.mpi.world.size) but was launched into one of 6; it does not join"),
                job.output());
        assertTrue(!job.output().contains("DIGEST") && !job.output().contains("CollectiveTimeoutException"), job.output());
    }

    private static List<String> digests(String output) {
        return output.lines().filter(l -> l.startsWith("DIGEST ")).toList();
    }

    private static String host(int i) {
        return prefix + "-h" + i;
    }

    /** Cuts (or restores) every packet between host {@code h} and the other hosts; mpirun still reaches all. */
    private static void cut(int h, boolean on) {
        for (int other = 0; other < HOSTS; other++) {
            if (other != h) {
                String verb = on ? "add" : "del";
                ip("ip", "-n", host(h), "route", verb, "blackhole", subnet + "." + (other + 1) + "/32");
                ip("ip", "-n", host(other), "route", verb, "blackhole", subnet + "." + (h + 1) + "/32");
            }
        }
    }

    private static String ip(String... cmd) {
        try {
            List<String> c = new ArrayList<>(List.of(cmd));
            if (!c.getFirst().equals("ip") && !c.getFirst().equals("tc")) {
                c.addFirst("ip");
            }
            Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(String.join(" ", cmd), e);
        }
    }

    /** A file that does not exist yet: the ranks wait at their pause until {@link #resume} creates it. */
    private static Path resumeFile() throws java.io.IOException {
        Path dir = Files.createTempDirectory("resume");
        dir.toFile().deleteOnExit();
        return dir.resolve("go");
    }

    private static void resume(Path file) {
        try {
            Files.writeString(file, "go");
            file.toFile().deleteOnExit();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean fault(Runnable r) {
        r.run();
        return true;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Runs MpiScenario with {@code args} on {@value #NP} ranks: across the hosts (TCP only), or on
     * this host alone. {@code trigger}, when given, sees the output so far every 50 ms until it
     * returns true once (it makes the fault).
     */
    private static Job mpirun(boolean acrossHosts, List<String> mpiOptions, Predicate<String> trigger, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", String.valueOf(NP), "--oversubscribe", "--allow-run-as-root"));
        if (acrossHosts) {
            cmd.addAll(List.of("--hostfile", hostfile.toString(), "--mca", "plm_rsh_agent", script + " agent",
                    "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", subnet + ".0/24", "--mca", "oob_tcp_if_include", subnet + ".0/24",
                    // An orted maps its hwloc topology into the biggest hole of its address space, by
                    // default; now and then that lands beside its stack and it dies with SIGSEGV in
                    // hwloc_shmem_topology_write before any rank starts. Ranks read the topology themselves.
                    "--mca", "rtc_hwloc_vmhole", "none"));
        }
        cmd.addAll(mpiOptions);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of(System.getProperty("kernelbridge.jvm.flags", "--enable-native-access=ALL-UNNAMED").split(" ")));
        cmd.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("surefire.test.class.path",
                System.getProperty("java.class.path")), MpiScenario.class.getName()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile("mpirun", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("OMPI_MCA_rmaps_base_oversubscribe", "1");
        long t0 = System.nanoTime();
        Process p = pb.start();
        long end = t0 + TimeUnit.SECONDS.toNanos(HARD_LIMIT_SECONDS);
        boolean ended = false;
        while (!ended && System.nanoTime() - end < 0) {
            ended = p.waitFor(50, TimeUnit.MILLISECONDS);
            if (!ended && trigger != null && trigger.test(Files.readString(log, StandardCharsets.UTF_8))) {
                trigger = null;
            }
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            for (int h = 0; h < HOSTS; h++) { // the ranks run under orteds in the namespaces, not under mpirun
                for (String pid : ip("netns", "pids", host(h)).split("\\s+")) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
            }
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        Files.deleteIfExists(log);
        assertTrue(ended, "the MPI job hung (still running after " + HARD_LIMIT_SECONDS + " s):\n" + output);
        return new Job(p.exitValue(), output, millis);
    }

    private static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("ci/netns-hosts"))) {
                return p;
            }
        }
        throw new IllegalStateException("ci/netns-hosts not found above " + Path.of("").toAbsolutePath());
    }
}
