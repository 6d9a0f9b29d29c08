package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The moe command on in-process CPU ranks: verified in every type and split, a corrupting device, seeds, its argument checks (the layer's own rules: examples/moe). */
class MoeTest {
    private record Outcome(int code, String out, String err) { }

    private static Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static long[] tokensPerExpert(String json) {
        Matcher m = Pattern.compile("\"tokensPerExpert\":\\[([0-9,]*)]").matcher(json);
        assertTrue(m.find(), "tokensPerExpert missing in " + json);
        return Arrays.stream(m.group(1).split(",")).mapToLong(Long::parseLong).toArray();
    }

    @Test
    void aLayerOnTwoCpuRanksVerifiesAndReportsRaggedExpertCounts() {
        Outcome o = run("moe", "--ranks", "2", "--experts", "8", "--top-k", "2", "--tokens", "300", "--hidden", "64", "--ffn", "96",
                "--iterations", "2", "--verify", "--json");
        assertEquals(0, o.code(), o.err());
        for (String field : new String[] {"\"job\":\"moe\"", "\"dtype\":\"f32\"", "\"ranks\":2", "\"devices\":[\"cpu:0\",\"cpu:0\"]",
                "\"seconds\":", "\"verified\":true", "\"activation\":\"silu\"", "\"runs\":2"}) {
            assertTrue(o.out().contains(field), field + " missing in " + o.out());
        }
        long[] counts = tokensPerExpert(o.out());
        assertEquals(8, counts.length);
        assertEquals(300 * 2, Arrays.stream(counts).sum(), "every token goes to top-k experts");
        // The skewed router: expert 0 is favoured over the last, so the groups are ragged.
        assertTrue(counts[0] > counts[7], Arrays.toString(counts));
    }

    @Test
    void everyTypeAndUnevenSplitsVerify() {
        String[][] cases = {
                {"--dtype", "f64", "--ranks", "3", "--experts", "5", "--top-k", "3", "--tokens", "37"},
                {"--dtype", "bf16", "--ranks", "2", "--experts", "4", "--top-k", "2", "--tokens", "50"},
                {"--dtype", "f16", "--ranks", "2", "--experts", "3", "--top-k", "1", "--tokens", "41"},
                // More ranks than experts and than tokens: some ranks own no expert, some no token.
                {"--dtype", "f32", "--ranks", "3", "--experts", "2", "--top-k", "2", "--tokens", "2"},
        };
        for (String[] c : cases) {
            String[] args = concat(new String[] {"moe", "--hidden", "40", "--ffn", "24", "--iterations", "1", "--verify", "--json"}, c);
            Outcome o = run(args);
            assertEquals(0, o.code(), String.join(" ", args) + ": " + o.err());
            assertTrue(o.out().contains("\"verified\":true"), String.join(" ", args) + ": " + o.out());
        }
    }

    @Test
    void plainTextNamesTheLayerAndTheVerdict() {
        Outcome o = run("moe", "--ranks", "2", "--experts", "4", "--tokens", "20", "--hidden", "16", "--ffn", "8", "--iterations", "1", "--verify");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().startsWith("moe f32: 20 tokens, 4 experts, top-2, hidden 16, ffn 8, SiLU, over 2 ranks on cpu:0,cpu:0"), o.out());
        assertTrue(o.out().contains("tokens per expert: ["), o.out());
        assertTrue(o.out().contains("verified against the F64 host reference"), o.out());
    }

    @Test
    void aDeviceThatCorruptsItsGemmsFailsTheJobWithExit1() throws Exception {
        // Run as a user runs it, in a JVM of its own: the fault plan is a setting read when the bridge opens.
        List<String> cmd = new java.util.ArrayList<>(List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                Main.class.getName(), "moe", "--ranks", "2", "--tokens", "64", "--hidden", "16", "--ffn", "8", "--iterations", "1", "--verify", "--json"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("KERNELBRIDGE_FAULTS", "cpu:0=corrupt-every:1"); // one value of every GEMM's C made wrong
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "moe must finish");
        assertEquals(1, p.exitValue(), output);
        assertTrue(output.contains("\"verified\":false"), output);
    }

    @Test
    void theSameSeedRoutesTheSameWayAndAnotherSeedDoesNot() {
        String[] base = {"moe", "--ranks", "2", "--experts", "8", "--tokens", "64", "--hidden", "32", "--ffn", "16", "--iterations", "1", "--json"};
        long[] a = tokensPerExpert(run(concat(base, "--seed", "5")).out());
        long[] b = tokensPerExpert(run(concat(base, "--seed", "5")).out());
        long[] c = tokensPerExpert(run(concat(base, "--seed", "6")).out());
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c), Arrays.toString(a) + " for seeds 5 and 6");
    }

    @Test
    void badArgumentsExitWith2AndNameTheRule() {
        String[] small = {"moe", "--tokens", "8", "--hidden", "8", "--ffn", "8"};
        Object[][] cases = {
                {new String[] {"--experts", "4", "--top-k", "5"}, "--top-k must be <= --experts (4), got 5"},
                {new String[] {"--top-k", "0"}, "--top-k must be >= 1, got 0"},
                {new String[] {"--experts", "0"}, "--experts must be >= 1, got 0"},
                {new String[] {"--dtype", "i8"}, "--dtype must be one of f32, f64, bf16, f16 for moe, got 'i8'"},
                {new String[] {"--dtype", "f8"}, "--dtype must be one of"},
                {new String[] {"--hidden", "300000"}, "--hidden must be <= 262144"},
                {new String[] {"--ranks", "0"}, "--ranks must be >= 1, got 0"},
                {new String[] {"--iterations", "0"}, "--iterations must be >= 1, got 0"},
                {new String[] {"--backend", "nccl"}, "--backend must be local (in-process ranks) or mpi"},
                {new String[] {"--devices", "cpu:0,cpu:0", "--ranks", "2"}, "--devices names every rank"},
                {new String[] {"--backend", "mpi", "--ranks", "2"}, "with --backend mpi the ranks are the processes"},
                {new String[] {"--device", "cuda:7"}, "device must be one of [cpu:0"},
                {new String[] {"--tokens", "1000000", "--top-k", "2", "--experts", "4", "--hidden", "2048"}, "--tokens x --top-k x --hidden"},
                {new String[] {"--seed", "x"}, "--seed must be an integer, got 'x'"},
        };
        for (Object[] c : cases) {
            String[] given = (String[]) c[0];
            String[] args = concat(small, given); // the case's options last: they override the small sizes
            Outcome o = run(args);
            assertEquals(2, o.code(), String.join(" ", args) + ": " + o.err());
            assertTrue(o.err().contains((String) c[1]), String.join(" ", args) + ": " + o.err());
            assertEquals("", o.out(), "nothing is printed for a rejected job");
        }
    }

    private static String[] concat(String[] head, String... tail) {
        String[] all = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }
}
