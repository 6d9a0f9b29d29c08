package dev.kernelbridge.cpu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CPU's part of the tuning database: which routine {@code kernelbridge tune} chose per shape
 * class, per machine. A machine is the fingerprint of what decides the speeds — the CPU model, the
 * thread count, the JDK, and each routine's library version and ISA — so a new library or CPU
 * chooses afresh instead of trusting choices measured on something else.
 *
 * <p>The file is text, one choice a line ({@code machine class routine shape timings}, tab
 * separated, {@code #} comments), kept for every machine that wrote it. A damaged file is ignored as
 * a whole with one WARNING, like the OpenCL and CUDA tuning files: {@code tune} writes a new one.
 */
final class StoredChoices {
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cpu");
    static final String HEADER = "# KernelBridge cpu:0 GEMM routine choices, written by `kernelbridge tune`: machine, shape class, routine,"
            + " shape, timings. Delete the file to let each run choose by itself again.";

    /** One stored choice. */
    record Row(String machine, long shapeClass, String routine, String shape, String timings) {
        String line() {
            return String.join("\t", machine, Long.toHexString(shapeClass), routine, shape, timings);
        }
    }

    private final Path file;
    private final String machine;
    private final Map<Long, Row> mine;

    private StoredChoices(Path file, String machine, Map<Long, Row> mine) {
        this.file = file;
        this.machine = machine;
        this.mine = Map.copyOf(mine);
    }

    /** The choices stored in {@code file} for {@code machine} (none when the file is missing or damaged). */
    static StoredChoices load(Path file, String machine) {
        Map<Long, Row> mine = new LinkedHashMap<>();
        try {
            for (Row r : read(file)) {
                if (r.machine().equals(machine)) {
                    mine.put(r.shapeClass(), r);
                }
            }
        } catch (IllegalArgumentException | IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cpu:0 routine choices in {0} are damaged and ignored ({1}); run `kernelbridge tune` to write"
                    + " them again", file, e.getMessage());
            mine.clear();
        }
        return new StoredChoices(file, machine, mine);
    }

    Path file() { return file; }

    String machine() { return machine; }

    /** The stored choices of this machine. */
    List<Row> rows() { return List.copyOf(mine.values()); }

    Optional<String> routine(long shapeClass) {
        Row r = mine.get(shapeClass);
        return r == null ? Optional.empty() : Optional.of(r.routine());
    }

    /**
     * Replaces this machine's choices in the file with {@code rows}, keeping other machines' lines;
     * atomic, so a run that starts meanwhile reads the old file or the new one.
     */
    static void write(Path file, String machine, List<Row> rows) {
        List<String> lines = new ArrayList<>();
        lines.add(HEADER);
        try {
            for (Row r : read(file)) {
                if (!r.machine().equals(machine)) {
                    lines.add(r.line());
                }
            }
        } catch (IllegalArgumentException | IOException damaged) {
            // a damaged file is replaced: its lines were ignored anyway
        }
        rows.forEach(r -> lines.add(r.line()));
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.write(tmp, lines, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the cpu:0 routine choices to " + file, e);
        }
    }

    /** The rows of {@code file}; none when it does not exist. IllegalArgumentException names a bad line. */
    static List<Row> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        List<Row> rows = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            number++;
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length != 5 || f[0].isEmpty() || f[2].isEmpty()) {
                throw new IllegalArgumentException("line " + number + " does not have the 5 tab-separated fields");
            }
            long cls;
            try {
                cls = Long.parseUnsignedLong(f[1], 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("line " + number + ": shape class '" + f[1] + "' is not hexadecimal");
            }
            rows.add(new Row(f[0], cls, f[2], f[3], f[4]));
        }
        return rows;
    }

    /** A short, stable name for a machine's fingerprint. */
    static String machineId(String fingerprint) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(fingerprint.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
