package dev.kernelbridge.tuning;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * R22: the tuning-database parser reads a file users and tools write; any text must give entries or
 * an IllegalArgumentException saying what is wrong — never another exception or error.
 */
class TuningDatabaseFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void anyTextParsesOrIsRejectedWithTheDocumentedException(String text) {
        try {
            TuningDatabase.parse(text);
        } catch (IllegalArgumentException expected) {
            // the documented rejection
        }
    }
}
