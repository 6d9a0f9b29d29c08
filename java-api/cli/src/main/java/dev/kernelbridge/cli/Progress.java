package dev.kernelbridge.cli;

import java.io.PrintStream;

/**
 * One self-rewriting status line on stderr, only when stderr is a terminal, so that pipes, logs
 * and --json output stay clean.
 */
final class Progress implements AutoCloseable {
    private final PrintStream err = System.err;
    private final boolean enabled;
    private final String task;
    private boolean shown;

    Progress(String task) {
        this.task = task;
        java.io.Console console = System.console();
        this.enabled = console != null && console.isTerminal();
    }

    void step(long done, long total, String detail) {
        if (enabled) {
            err.print("\r\u001b[2K" + task + " " + done + "/" + total + (detail.isEmpty() ? "" : " " + detail));
            err.flush();
            shown = true;
        }
    }

    @Override
    public void close() {
        if (shown) {
            err.print("\r\u001b[2K");
            err.flush();
        }
    }
}
