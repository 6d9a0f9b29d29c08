package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.tuning.TuningDatabase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The tuning defaults this backend ships: sound, and a default for each dtype on any device. */
class ShippedTuningTest {
    @Test
    void theShippedDefaultsAreSoundAndCoverBothDtypes() throws IOException {
        String json;
        try (InputStream in = OpenClBackend.class.getResourceAsStream("tuning-defaults.json")) {
            assertNotNull(in, "tuning-defaults.json must be in the jar");
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        TuningDatabase db = TuningDatabase.load(null, json);
        assertTrue(db.problems().isEmpty(), db.problems().toString());
        var unknown = new TuningDatabase.Identity("nobody", "nothing", "0");
        assertTrue(db.lookup("gemm", "F32", unknown).isPresent());
        assertTrue(db.lookup("gemm", "F64", unknown).isPresent());
        assertFalse(db.lookup("gemm", "F16", unknown).isPresent());
    }
}
