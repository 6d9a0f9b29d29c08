package dev.kernelbridge.cpublas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.Device;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.TuningReport;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How cpu:0 chooses its routine per shape class: never one that gives other bits (a fault injected
 * into the real OpenBLAS, faster than every honest routine), and, once {@code tune} has stored the
 * choices for this machine, the stored one in every later run, without timing; a damaged file is
 * ignored with one WARNING.
 */
class RoutineChoiceTest {
    @BeforeAll
    static void present() {
        RoutinePresent.assume(new OpenBlasProvider());
    }

    @TempDir
    Path cache;

    private Config cpu(String routine) {
        return Config.defaults().with(Config.BACKEND, "cpu").with(Config.CACHE_DIR, cache.toString()).with(CpuRoutineProvider.SETTING, routine);
    }

    @Test
    void aRoutineThatGivesOtherBitsIsNeverChosenHoweverFastItIs() {
        int n = 64;
        float[] a = smallIntegers(n * n, 1), b = smallIntegers(n * n, 2), expected = product(a, b, n);
        System.setProperty(TruncatingRoutineProvider.ENABLE, "true");
        try (Captured log = new Captured(Level.WARNING)) {
            try (KernelBridge faulty = KernelBridge.open(cpu(TruncatingRoutineProvider.NAME))) {
                float[] c = new float[n * n];
                faulty.blas().sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
                assertFalse(Arrays.equals(expected, c), "the injected fault is live: forced, it gives other bits");
            }
            try (KernelBridge auto = KernelBridge.open(cpu("auto"))) {
                Blas blas = auto.blas();
                for (int call = 0; call < 3; call++) {
                    float[] c = new float[n * n];
                    blas.sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
                    assertArrayEquals(expected, c, "auto ran the routine that sums one term of k");
                }
            }
            assertTrue(log.text().contains("the " + TruncatingRoutineProvider.NAME + " routine gave other bits than the Vector API kernels"),
                    "one WARNING says which routine was left out: " + log.text());
        } finally {
            System.clearProperty(TruncatingRoutineProvider.ENABLE);
        }
    }

    @Test
    void tuneStoresEachClassesChoiceAndTheNextRunTakesItWithoutTiming() throws Exception {
        Path file = cache.resolve("tuning").resolve("cpu-routines.tsv");
        Files.createDirectories(file.getParent());
        String otherMachine = "000000000000\t" + Long.toHexString(42) + "\tvector\tf32->f32 n=16\tfrom another machine";
        Files.writeString(file, otherMachine + "\n");
        List<TuningReport.Kernel> tuned;
        try (KernelBridge bridge = KernelBridge.open(cpu("auto"))) {
            Device cpu = bridge.device("cpu:0");
            assertTrue(bridge.isTunable(cpu));
            assertTrue(cpu.details().get("routine.choices").contains("chosen by timing"), cpu.details().toString());
            TuningReport report = bridge.tune(cpu, Duration.ofSeconds(30), null);
            tuned = report.kernels();
            assertEquals(file.toString(), report.database());
        }
        assertFalse(tuned.isEmpty(), "OpenBLAS takes F32 and F64: there is something to choose");
        List<String> lines = Files.readAllLines(file);
        assertTrue(lines.contains(otherMachine), "another machine's choices stay: " + lines);
        assertEquals(tuned.size(), lines.stream().filter(l -> !l.startsWith("#") && !l.startsWith("000000000000")).count(), String.join("\n", lines));
        for (TuningReport.Kernel k : tuned) {
            assertTrue(k.gflops() > 0, k.toString());
            assertTrue(k.parameters().startsWith("vector") || k.parameters().startsWith("openblas") || k.parameters().startsWith("onednn"), k.toString());
        }

        // Every stored choice says "vector", which timing would not pick at n = 64 where OpenBLAS is twice as fast: the run must take it as stored.
        Files.write(file, lines.stream().map(l -> l.startsWith("#") ? l : l.replaceFirst("\t(openblas|onednn)\t", "\tvector\t")).toList());
        try (Captured debug = new Captured(Level.FINE); KernelBridge bridge = KernelBridge.open(cpu("auto"))) {
            assertTrue(bridge.device("cpu:0").details().get("routine.choices").contains("stored in " + file), bridge.device("cpu:0").details().toString());
            int n = 64;
            float[] a = smallIntegers(n * n, 3), b = smallIntegers(n * n, 4), c = new float[n * n];
            bridge.blas().sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
            assertArrayEquals(product(a, b, n), c);
            assertTrue(debug.text().contains("f32->f32 m~64 n~64 k~64: vector (stored by kernelbridge tune"), debug.text());
        }
    }

    @Test
    void aDamagedChoicesFileIsIgnoredAsAWholeWithOneWarning() throws Exception {
        Path file = cache.resolve("tuning").resolve("cpu-routines.tsv");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "this is not a choice\n");
        try (Captured log = new Captured(Level.WARNING); KernelBridge bridge = KernelBridge.open(cpu("auto"))) {
            int n = 32;
            float[] a = smallIntegers(n * n, 5), b = smallIntegers(n * n, 6), c = new float[n * n];
            bridge.blas().sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
            assertArrayEquals(product(a, b, n), c);
            assertTrue(log.text().contains("are damaged and ignored (line 1 does not have the 5 tab-separated fields)"), log.text());
            assertEquals(1, log.records.size(), log.text());
        }
    }

    private static float[] smallIntegers(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = rnd.nextInt(9) - 4;
        }
        return x;
    }

    /** Column-major n×n product; exact in F32 for small integers, whatever the order of the sum. */
    private static float[] product(float[] a, float[] b, int n) {
        float[] c = new float[n * n];
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < n; p++) {
                for (int i = 0; i < n; i++) {
                    c[i + j * n] += a[i + p * n] * b[p + j * n];
                }
            }
        }
        return c;
    }

    /** Records of the CPU backend's logger at {@code level} and above while open. */
    private static final class Captured extends Handler implements AutoCloseable {
        private final Logger logger = Logger.getLogger("dev.kernelbridge.cpu");
        private final Level before = logger.getLevel();
        final List<LogRecord> records = new ArrayList<>();

        Captured(Level level) {
            setLevel(level);
            logger.setLevel(level);
            logger.addHandler(this);
        }

        synchronized String text() {
            StringBuilder s = new StringBuilder();
            for (LogRecord r : records) {
                s.append(r.getLevel()).append(' ').append(java.text.MessageFormat.format(r.getMessage(), r.getParameters())).append('\n');
            }
            return s.toString();
        }

        @Override
        public synchronized void publish(LogRecord r) {
            if (isLoggable(r)) {
                records.add(r);
            }
        }

        @Override
        public void flush() { }

        @Override
        public void close() {
            logger.removeHandler(this);
            logger.setLevel(before);
        }
    }
}
