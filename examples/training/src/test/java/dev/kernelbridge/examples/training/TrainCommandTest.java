package dev.kernelbridge.examples.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** kernelbridge train reaches the trainer through the CLI's Subcommand SPI: listed in help, run by name. */
class TrainCommandTest {
    @Test
    void theCommandLineListsAndRunsTrain() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8), e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(0, Main.run(new String[] {"help"}, o, e));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("  train     [--steps N]"), out.toString(StandardCharsets.UTF_8));
        out.reset();
        int code = Main.run(new String[] {"train", "--steps", "3", "--json"}, o, e);
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("\"losses\""), out.toString(StandardCharsets.UTF_8));
    }
}
