package dev.kernelbridge.examples.training;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * One training state on disk: the run's identity (seed, widths, global batch, learning rate), the step
 * reached, the parameters, Adam's moments and the loss curve so far. Written atomically — to a
 * temporary file, fsync'ed, renamed over, then the directory fsync'ed — so a crash leaves the previous
 * checkpoint or the new one, never half of one. The last 8 bytes are a CRC32C of the rest: a torn or
 * damaged file is detected and never loaded ({@link #latest} falls back to the one before). The two
 * newest are kept.
 */
record Checkpoint(Identity identity, long step, double[] parameters, double[] adamM, double[] adamV, long adamT,
                  double[] losses, double[] accuracies) {
    private static final long MAGIC = 0x4B42545241494E31L; // "KBTRAIN1"
    private static final int VERSION = 1;
    private static final Pattern NAME = Pattern.compile("step-(\\d{9})\\.ckpt");
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.examples.training");

    /** What must match for a checkpoint to belong to a run. The rank count may differ (the global batch may not). */
    record Identity(long seed, int[] widths, int globalBatch, double learningRate) {
        String describe() {
            return "seed " + seed + ", widths " + Arrays.toString(widths) + ", global batch " + globalBatch + ", learning rate " + learningRate;
        }

        boolean sameAs(Identity o) {
            return seed == o.seed && Arrays.equals(widths, o.widths) && globalBatch == o.globalBatch
                    && Double.doubleToLongBits(learningRate) == Double.doubleToLongBits(o.learningRate);
        }
    }

    static Path fileFor(Path dir, long step) {
        return dir.resolve(String.format("step-%09d.ckpt", step));
    }

    /** Writes atomically into {@code dir}; returns the file. Older checkpoints beyond the newest two are deleted. */
    Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            byte[] body = encode();
            Path target = fileFor(dir, step);
            Path tmp = dir.resolve(target.getFileName() + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(body);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true); // the rename itself is durable only once the directory is
            }
            List<Path> all = list(dir);
            for (int i = 2; i < all.size(); i++) {
                Files.deleteIfExists(all.get(i));
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint of step " + step + " into " + dir, e);
        }
    }

    /**
     * The newest checkpoint in {@code dir} that is whole and belongs to this run; damaged ones are
     * reported (WARNING) and skipped. Empty when there is none. A whole checkpoint of another run is an error.
     */
    static Optional<Checkpoint> latest(Path dir, Identity expected) {
        for (Path p : list(dir)) {
            Checkpoint c;
            try {
                c = decode(Files.readAllBytes(p));
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "checkpoint {0} is damaged and is not loaded ({1}); trying an older one", p, e.getMessage());
                continue;
            }
            if (!c.identity.sameAs(expected)) {
                throw new IllegalArgumentException("--checkpoint " + dir + " holds another run (" + c.identity.describe()
                        + "), not this one (" + expected.describe() + "): use another directory or the same settings");
            }
            return Optional.of(c);
        }
        return Optional.empty();
    }

    /** Checkpoint files in {@code dir}, newest step first. */
    static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> out = new ArrayList<>(s.filter(p -> NAME.matcher(p.getFileName().toString()).matches()).toList());
            out.sort(Comparator.comparingLong(Checkpoint::stepOf).reversed());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + dir, e);
        }
    }

    private static long stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    byte[] encode() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeLong(MAGIC);
        out.writeInt(VERSION);
        out.writeLong(identity.seed);
        writeInts(out, identity.widths);
        out.writeInt(identity.globalBatch);
        out.writeDouble(identity.learningRate);
        out.writeLong(step);
        writeDoubles(out, parameters);
        writeDoubles(out, adamM);
        writeDoubles(out, adamV);
        out.writeLong(adamT);
        writeDoubles(out, losses);
        writeDoubles(out, accuracies);
        out.flush();
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeLong(crc.getValue());
        out.flush();
        return bytes.toByteArray();
    }

    static Checkpoint decode(byte[] file) throws IOException {
        if (file.length < 8 + 4 + 8) {
            throw new IOException("truncated: " + file.length + " bytes");
        }
        CRC32C crc = new CRC32C();
        crc.update(file, 0, file.length - 8);
        long stored = ByteBuffer.wrap(file, file.length - 8, 8).getLong();
        if (stored != crc.getValue()) {
            throw new IOException("checksum mismatch (torn or damaged file)");
        }
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(file, 0, file.length - 8));
        if (in.readLong() != MAGIC) {
            throw new IOException("not a KernelBridge training checkpoint");
        }
        int version = in.readInt();
        if (version != VERSION) {
            throw new IOException("format version " + version + ", this build reads " + VERSION);
        }
        Identity id = new Identity(in.readLong(), readInts(in), in.readInt(), in.readDouble());
        long step = in.readLong();
        return new Checkpoint(id, step, readDoubles(in), readDoubles(in), readDoubles(in), in.readLong(), readDoubles(in), readDoubles(in));
    }

    private static void writeInts(DataOutputStream out, int[] v) throws IOException {
        out.writeInt(v.length);
        for (int x : v) {
            out.writeInt(x);
        }
    }

    private static int[] readInts(DataInputStream in) throws IOException {
        int[] v = new int[checkedLength(in.readInt())];
        for (int i = 0; i < v.length; i++) {
            v[i] = in.readInt();
        }
        return v;
    }

    private static void writeDoubles(DataOutputStream out, double[] v) throws IOException {
        out.writeInt(v.length);
        for (double x : v) {
            out.writeDouble(x);
        }
    }

    private static double[] readDoubles(DataInputStream in) throws IOException {
        double[] v = new double[checkedLength(in.readInt())];
        for (int i = 0; i < v.length; i++) {
            v[i] = in.readDouble();
        }
        return v;
    }

    private static int checkedLength(int n) throws IOException {
        if (n < 0 || n > 1 << 28) {
            throw new IOException("implausible array length " + n);
        }
        return n;
    }
}
