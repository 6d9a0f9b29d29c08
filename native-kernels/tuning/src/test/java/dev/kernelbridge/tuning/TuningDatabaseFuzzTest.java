package dev.kernelbridge.tuning;

import org.junit.jupiter.api.Tag;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * R22: the tuning-database parser reads a file users and tools write; any text must give entries or
 * an IllegalArgumentException saying what is wrong — never another exception or error.
 */
class TuningDatabaseFuzzTest {
    @Tag("R22")
    @FuzzTest(maxDuration = "30s")
    void anyTextParsesOrIsRejectedWithTheDocumentedException(String text) {
        try {
            TuningDatabase.parse(text);
        } catch (IllegalArgumentException expected) {
            // the documented rejection
        }
    }
}
