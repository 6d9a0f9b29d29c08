package dev.kernelbridge.cli;

import org.junit.jupiter.api.Tag;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Set;

/**
 * R22: the CLI's argument parser. Any command line is parsed or refused with a UsageException
 * (exit code 2, naming the option); numbers that do not parse are usage errors too.
 */
class ArgsFuzzTest {
    @Tag("R22")
    @FuzzTest(maxDuration = "30s")
    void anyCommandLineIsParsedOrRefusedAsAUsageError(FuzzedDataProvider data) {
        String[] argv = new String[data.consumeInt(0, 8)];
        for (int i = 0; i < argv.length; i++) {
            argv[i] = data.consumeBoolean() ? "--" + data.pickValue(new String[] {"m", "n", "k", "alpha", "repeat", "json", "verify", "dtype"})
                    + (data.consumeBoolean() ? "=" + data.consumeString(12) : "") : data.consumeString(16);
        }
        try {
            Args a = new Args(argv, 0, Set.of("m", "n", "k", "alpha", "repeat", "dtype"), Set.of("json", "verify"));
            a.positiveLong("repeat", 1, 1);
            a.number("alpha", 1);
            a.flag("json");
            if (a.has("m")) {
                a.required("m", 0);
            }
        } catch (Args.UsageException refused) {
            // the documented refusal
        }
    }
}
