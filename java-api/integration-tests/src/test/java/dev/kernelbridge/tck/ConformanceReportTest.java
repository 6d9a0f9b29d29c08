package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/** The verdict a machine reads: runs a kit for an F32-only backend and checks its report. */
class ConformanceReportTest {
    @Test
    void undeclaredCapabilitiesAreSkippedAndListedNeverFailedOrPassed(@TempDir Path dir) throws Exception {
        String previous = System.getProperty("kernelbridge.tck.reportDir");
        System.setProperty("kernelbridge.tck.reportDir", dir.toString());
        try {
            Launcher launcher = LauncherFactory.create();
            SummaryGeneratingListener summary = new SummaryGeneratingListener();
            launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(F32OnlyKit.class)).build(), summary);
            TestExecutionSummary s = summary.getSummary();
            assertEquals(0, s.getTotalFailureCount(), () -> s.getFailures().stream().map(f -> f.getTestIdentifier().getDisplayName() + ": " + f.getException()).toList().toString());
            assertTrue(s.getTestsAbortedCount() > 0, "F64 cases must be skipped");

            String json = Files.readString(dir.resolve("cpuf32.json"));
            assertTrue(json.contains("\"backend\":\"cpuf32\""), json);
            assertTrue(json.contains("\"spiVersion\":1"), json);
            assertTrue(json.contains("\"conforms\":true"), json);
            assertTrue(json.contains("\"dtypes\":[\"f32\"]"), json);
            assertTrue(json.contains("\"capabilities\":{\"passed\":1,\"failed\":0,\"skipped\":1}"), json);
            assertTrue(json.contains("does not declare f64"), json);
            assertTrue(json.contains("\"deviceGflops\":"), json);
            String md = Files.readString(dir.resolve("cpuf32.md"));
            assertTrue(md.contains("| capabilities | 1 | 0 | 1 |"), md);
            assertTrue(md.contains("skipped `declaredTypeComputes [2] F64`") || md.contains("does not declare f64"), md);
        } finally {
            if (previous == null) {
                System.clearProperty("kernelbridge.tck.reportDir");
            } else {
                System.setProperty("kernelbridge.tck.reportDir", previous);
            }
        }
    }
}
