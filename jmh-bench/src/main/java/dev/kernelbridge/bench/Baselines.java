package dev.kernelbridge.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Baselines per machine: a ratio to a peer is only comparable on the machine (and peer builds) it was
 * measured on — the same Debian BLIS ran 5x apart on two CPUs. A machine is named by the fingerprint
 * fields that set the speeds (CPU model, cores, the peers' builds and packages), not by the JDK or
 * revision, which are what the gate is for. File: {@code DIR/<cpu-slug>-<hash>-<mode>.json}.
 */
final class Baselines {
    /** The fingerprint fields that identify a machine for the gate. */
    static final List<String> MACHINE_FIELDS = List.of("cpu", "cores", "openblasCore", "openblas", "blis", "libraries");

    private Baselines() { }

    static String key(Map<String, String> fingerprint) {
        StringBuilder identity = new StringBuilder();
        for (String f : MACHINE_FIELDS) {
            identity.append(f).append('=').append(fingerprint.getOrDefault(f, "")).append('\n');
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(identity.toString().getBytes(StandardCharsets.UTF_8));
            String slug = fingerprint.getOrDefault("cpu", "unknown").toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-")
                    .replaceAll("(^-|-$)", "");
            return (slug.length() > 40 ? slug.substring(0, 40) : slug) + "-" + HexFormat.of().formatHex(h, 0, 4);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path file(Path dir, Map<String, String> fingerprint, String mode) {
        return dir.resolve(key(fingerprint) + "-" + mode + ".json");
    }

    /** What the gate says about one run: its Markdown section, whether it passes, and whether the run became the baseline. */
    record Outcome(String markdown, boolean pass, Path recorded) { }

    /**
     * Gates {@code run} against this machine's baseline in {@code dir}. A machine without one is not
     * gated: the run is recorded as its baseline. {@code update} records the run in any case (after
     * comparing, so the report still shows what changed).
     */
    static Outcome gate(Path dir, Results run, String mode, boolean update) throws java.io.IOException {
        Path baseline = file(dir, run.machine(), mode);
        StringBuilder md = new StringBuilder();
        boolean pass = true;
        if (java.nio.file.Files.exists(baseline)) {
            List<Gate.Verdict> verdicts = new Gate(0.03).compare(Results.read(baseline).figures(), run.figures());
            pass = update || Gate.passes(verdicts);
            md.append("## Gate against ").append(baseline).append("\n\n").append(Gate.table(verdicts))
                    .append(Gate.passes(verdicts) ? "\nGate: pass\n" : "\nGate: FAIL (a ratio dropped beyond the noise of both runs and 3 %)\n");
        } else {
            update = true;
            md.append("## Gate\n\nNew machine: not gated (").append(run.machine().get("cpu")).append(", ").append(run.machine().get("cores"))
                    .append(" cores; no baseline at ").append(baseline).append("). This run is recorded as its baseline.\n");
        }
        if (update) {
            run.write(baseline);
            md.append("\nBaseline recorded: ").append(baseline).append('\n');
        }
        return new Outcome(md.toString(), pass, update ? baseline : null);
    }
}
