package dev.kernelbridge.tuning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tuning database as data: fallback levels, user over shipped, damaged files never trusted (R22's parser side). */
class TuningDatabaseTest {
    /** Defaults as a backend ships them: one default-level entry per dtype. */
    private static final String SHIPPED = """
            {"format":"kernelbridge-tuning","version":1,"entries":[
              {"kernel":"gemm","dtype":"F32","parameters":{"KB_VW":4,"KB_MV":2,"KB_NR":4,"KB_KU":2,"KB_WG":1}},
              {"kernel":"gemm","dtype":"F64","parameters":{"KB_VW":2,"KB_MV":2,"KB_NR":4,"KB_KU":2,"KB_WG":1}}]}""";
    private static final TuningDatabase.Identity POCL = new TuningDatabase.Identity("AuthenticAMD", "pthread-znver4", "3.1");

    @TempDir
    Path dir;

    private static TuningDatabase.Entry entry(String vendor, String device, String driver, int nr) {
        return new TuningDatabase.Entry("gemm", "F32", vendor, device, driver,
                Map.of("KB_VW", 8, "KB_MV", 2, "KB_NR", nr, "KB_KU", 1, "KB_WG", 1), null);
    }

    @Test
    void theMostSpecificLevelWinsAndTheUserWinsWithinALevel() throws IOException {
        Path file = dir.resolve("opencl.json");
        TuningDatabase.record(file, entry("AuthenticAMD", null, null, 6));
        TuningDatabase db = TuningDatabase.load(file, SHIPPED);
        var vendor = db.lookup("gemm", "F32", POCL).orElseThrow();
        assertEquals(TuningDatabase.Level.VENDOR, vendor.level());
        assertEquals("user", vendor.source());
        assertEquals(6, vendor.entry().parameters().get("KB_NR"));

        TuningDatabase.record(file, entry("AuthenticAMD", "pthread-znver4", null, 8));
        TuningDatabase.record(file, entry("AuthenticAMD", "pthread-znver4", "3.1", 12));
        db = TuningDatabase.load(file, SHIPPED);
        assertEquals(12, db.lookup("gemm", "F32", POCL).orElseThrow().entry().parameters().get("KB_NR"));
        var otherDriver = db.lookup("gemm", "F32", new TuningDatabase.Identity("AuthenticAMD", "pthread-znver4", "4.0")).orElseThrow();
        assertEquals(TuningDatabase.Level.DEVICE, otherDriver.level());
        assertEquals(8, otherDriver.entry().parameters().get("KB_NR"));
        var otherVendor = db.lookup("gemm", "F32", new TuningDatabase.Identity("Intel", "gpu", "1")).orElseThrow();
        assertEquals(TuningDatabase.Level.DEFAULT, otherVendor.level());
        assertEquals("shipped", otherVendor.source());
    }

    @Test
    void recordingReplacesTheEntryForTheSameIdentityAndKeepsOthers() throws IOException {
        Path file = dir.resolve("opencl.json");
        TuningDatabase.record(file, entry("A", "d", "1", 4));
        TuningDatabase.record(file, entry("A", "d", "2", 6));
        TuningDatabase.record(file, entry("A", "d", "1", 8));
        List<TuningDatabase.Entry> entries = TuningDatabase.parse(Files.readString(file));
        assertEquals(2, entries.size());
        assertEquals(8, entries.stream().filter(e -> "1".equals(e.driver())).findFirst().orElseThrow().parameters().get("KB_NR"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{ not json",
        "[]",
        "{\"format\":\"something-else\",\"version\":1,\"entries\":[]}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":2,\"entries\":[]}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":1,\"entries\":{}}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":1,\"entries\":[{\"kernel\":\"gemm\",\"dtype\":\"F32\",\"parameters\":{\"KB_VW\":3,\"KB_MV\":1,\"KB_NR\":4,\"KB_KU\":1,\"KB_WG\":1}}]}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":1,\"entries\":[{\"kernel\":\"gemm\",\"dtype\":\"F32\",\"parameters\":{\"KB_VW\":4}}]}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":1,\"entries\":[{\"kernel\":\"gemm\",\"dtype\":\"F32\",\"parameters\":{\"KB_VW\":4.5,\"KB_MV\":1,\"KB_NR\":4,\"KB_KU\":1,\"KB_WG\":1}}]}",
        "{\"format\":\"kernelbridge-tuning\",\"version\":1,\"entries\":[{\"dtype\":\"F32\",\"parameters\":{}}]}",
    })
    void aDamagedFileIsReportedAndIgnoredAsAWhole(String text) throws IOException {
        Path file = dir.resolve("opencl.json");
        // One sound entry first: a damaged file must not be half-trusted either.
        Files.writeString(file, text);
        TuningDatabase db = TuningDatabase.load(file, SHIPPED);
        assertEquals(1, db.problems().size(), "one problem reported: " + db.problems());
        assertTrue(db.problems().getFirst().contains(file.toString()), db.problems().getFirst());
        assertTrue(db.problems().getFirst().contains("kernelbridge tune"), "says how to repair it: " + db.problems().getFirst());
        var match = db.lookup("gemm", "F32", POCL).orElseThrow();
        assertEquals("shipped", match.source(), "falls back to the shipped defaults");
    }

    @Test
    void tuningOverADamagedFileKeepsItAsideAndStartsAfresh() throws IOException {
        Path file = dir.resolve("opencl.json");
        Files.writeString(file, "{ damaged");
        TuningDatabase.record(file, entry("A", "d", "1", 4));
        assertEquals("{ damaged", Files.readString(dir.resolve("opencl.json.damaged")));
        assertEquals(1, TuningDatabase.parse(Files.readString(file)).size());
        assertTrue(TuningDatabase.load(file, SHIPPED).problems().isEmpty());
    }

    @Test
    void withoutShippedDefaultsOnlyTheUsersEntriesAnswer() throws IOException {
        TuningDatabase none = TuningDatabase.load(null, null);
        assertTrue(none.problems().isEmpty());
        assertFalse(none.lookup("gemm", "F32", POCL).isPresent());
        Path file = dir.resolve("cuda.json");
        TuningDatabase.record(file, entry("NVIDIA", "GPU", null, 8));
        assertTrue(TuningDatabase.load(file, null).lookup("gemm", "F32", new TuningDatabase.Identity("NVIDIA", "GPU", "13.0")).isPresent());
    }
}
