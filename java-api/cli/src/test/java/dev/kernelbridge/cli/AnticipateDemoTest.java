package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.CpuBackendProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code demo --anticipate --json}: with a second device beside cpu:0 (the real CPU backend under
 * another name, as in {@link MisbehavingPluginTest}: no fake device), the corrected-error ramp drains
 * cpu:0 before its hard fault comes due and the work goes on elsewhere, a 1.3× slowdown rebalances, a
 * 1.6× one drains, and no result is wrong or lost. Alone (the CLI's class path has the CPU backend
 * only) the trend is warned about and the run says what it could not show. Correctness only: no
 * assertion on time.
 */
class AnticipateDemoTest {

    @Test
    void withASecondDeviceTheTrendDrainsBeforeTheHardFaultAndNothingIsWrongOrLost() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = new AnticipateDemo(new PrintStream(bytes, true, StandardCharsets.UTF_8), true, List.of(new CpuBackendProvider(), new Twin()))
                .run(240, 1);
        String json = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(json.startsWith("{\"devices\":[\"cpu:0\",\"twin:0\"]"), json);

        // Hard fault at launch 180 (3/4 of 240 steps); the drain comes first, and cpu:0 is out of service when it is due.
        assertEquals("\"drain\"", field(json, "trend", "action"), json);
        int drainedAt = Integer.parseInt(field(json, "trend", "drainStep"));
        assertEquals("180", field(json, "trend", "hardFaultLaunch"));
        assertTrue(drainedAt > AnticipateDemo.TREND_FROM && drainedAt < 180, "drained at step " + drainedAt + ": " + json);
        assertEquals("true", field(json, "trend", "outOfServiceAtHardFault"), json);
        // The probes of the drained cpu:0 soak it; its ramp goes on in them until its memory gives out in one.
        assertEquals("true", field(json, "trend", "hardFaultStruck"), json);
        assertEquals(String.valueOf(180 - drainedAt), field(json, "trend", "lead"));
        assertTrue(json.contains("\"event\":\"foresight\",\"device\":\"cpu:0\",\"rule\":\"trend\",\"action\":\"drain\""), json);

        assertEquals("\"rebalance\"", field(json, "fail-slow 1.3x", "action"), json);
        assertEquals("null", field(json, "fail-slow 1.3x", "drainStep"), "a 1.3x slower device stays in service: " + json);
        assertEquals("\"drain\"", field(json, "fail-slow 1.6x", "action"), json);
        for (String scenario : List.of("trend", "fail-slow 1.3x", "fail-slow 1.6x")) {
            assertEquals("0", field(json, scenario, "wrong"), scenario);
            assertEquals("0", field(json, scenario, "lost"), scenario);
            assertEquals(field(json, scenario, "steps"), field(json, scenario, "checked"), scenario);
            assertEquals("true", field(json, scenario, "ok"), scenario);
        }
        assertTrue(json.contains("\"notShown\":[]"), json);
        assertTrue(json.endsWith("\"ok\":true}\n"), json);
        assertEquals(0, code);
    }

    @Test
    void aloneTheTrendIsWarnedAboutAndTheRunSaysWhatItCouldNotShow() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"demo", "--anticipate", "--json", "--steps", "240", "--seed", "2"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String json = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, err + json);
        assertTrue(json.startsWith("{\"devices\":[\"cpu:0\"],\"seed\":2,\"steps\":240"), json);
        assertEquals("\"warn\"", field(json, "trend", "action"), json);
        assertEquals("null", field(json, "trend", "drainStep"), json);
        assertEquals("false", field(json, "trend", "hardFaultReached"), "alone, the run stops before the hard fault: " + json);
        assertEquals("\"rebalance\"", field(json, "fail-slow 1.3x", "action"), json);
        for (String scenario : List.of("trend", "fail-slow 1.3x")) {
            assertEquals("0", field(json, scenario, "wrong"), scenario);
            assertEquals("0", field(json, scenario, "lost"), scenario);
        }
        assertTrue(json.contains("\"notShown\":[\"the drain and the work moving on"), json);
        assertTrue(json.contains("a fail-slow drain (it needs a second device"), json);
    }

    @Test
    void itsOptionsBelongToIt() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8), e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(2, Main.run(new String[] {"demo", "--steps", "300"}, o, e));
        assertEquals(2, Main.run(new String[] {"demo", "--anticipate", "--chaos"}, o, e));
        assertEquals(2, Main.run(new String[] {"demo", "--anticipate", "--calls", "3"}, o, e));
        assertEquals(2, Main.run(new String[] {"demo", "--anticipate", "--steps", "100"}, o, e));
        String messages = err.toString(StandardCharsets.UTF_8);
        assertTrue(messages.contains("--steps belongs to demo --anticipate"), messages);
        assertTrue(messages.contains("--calls belongs to demo --chaos"), messages);
        assertTrue(messages.contains("--steps must be >= 240"), messages);
    }

    /** The value of {@code name} in the row of {@code scenario} (the rows hold no nested objects; events have no such fields). */
    private static String field(String json, String scenario, String name) {
        Matcher m = Pattern.compile("\\{\"scenario\":\"" + Pattern.quote(scenario) + "\"[^{}]*?\"" + name + "\":(\"[^\"]*\"|[^,}]*)").matcher(json);
        if (!m.find()) {
            throw new AssertionError("no " + name + " for " + scenario + " in " + json);
        }
        return m.group(1);
    }

    /** The real CPU backend under another name: a second device that can take cpu:0's work, and be drained for slowness. */
    static final class Twin implements BackendProvider {
        @Override
        public String name() { return "twin"; }

        @Override
        public int priority() { return 1; }

        @Override
        public Availability probe() { return Availability.ok("the CPU backend under another name"); }

        @Override
        public Backend open(Config config) { return new CpuBackendProvider().open(config); }
    }
}
