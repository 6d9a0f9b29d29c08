package dev.kernelbridge.tuning;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Tuned kernel parameters as data: a versioned JSON file of entries, each for one kernel and dtype
 * on a device identity (vendor, device name, driver version; a field left out matches any), with
 * the provenance of its figure. Lookup falls back from the most to the least specific level:
 * device + driver, device, vendor, default. At each level the user's file (written by
 * {@code kernelbridge tune}) wins over the defaults shipped in the jar.
 *
 * <p>A damaged file (bad JSON, another format or version, a value the kernel does not accept) is
 * ignored as a whole and reported once: a half-trusted tuning file could launch a kernel with
 * parameters nobody verified.
 */
public final class TuningDatabase {
    public static final String FORMAT = "kernelbridge-tuning";
    public static final int VERSION = 1;
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.tuning");

    /** How specific the entry that answered a lookup is. */
    public enum Level { DEVICE_AND_DRIVER, DEVICE, VENDOR, DEFAULT }

    /** Where a device's parameters come from: the device's own words. */
    public record Identity(String vendor, String device, String driver) { }

    public record Provenance(String tuned, String host, double gflops, String shape, String tool) { }

    public record Entry(String kernel, String dtype, String vendor, String device, String driver,
                 Map<String, Integer> parameters, Provenance provenance) {
        public Entry {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(dtype, "dtype");
            parameters = Map.copyOf(parameters);
        }

        Optional<Level> matches(String kernel, String dtype, Identity id) {
            if (!this.kernel.equals(kernel) || !this.dtype.equals(dtype)) {
                return Optional.empty();
            }
            boolean v = vendor == null || vendor.equals(id.vendor());
            boolean d = device == null || device.equals(id.device());
            boolean r = driver == null || driver.equals(id.driver());
            if (!(v && d && r)) {
                return Optional.empty();
            }
            if (device != null && driver != null) {
                return Optional.of(Level.DEVICE_AND_DRIVER);
            }
            if (device != null) {
                return Optional.of(Level.DEVICE);
            }
            return Optional.of(vendor != null ? Level.VENDOR : Level.DEFAULT);
        }
    }

    /** The answer to a lookup, with where it came from. */
    public record Match(Entry entry, Level level, String source) { }

    private final List<Entry> user;
    private final List<Entry> shipped;
    private final List<String> problems;

    private TuningDatabase(List<Entry> user, List<Entry> shipped, List<String> problems) {
        this.user = List.copyOf(user);
        this.shipped = List.copyOf(shipped);
        this.problems = List.copyOf(problems);
    }

    /**
     * The defaults a backend ships (the JSON text of its {@code tuning-defaults.json}, or null when it
     * ships none) and, if present and sound, the user's file. Never throws for a bad file.
     */
    public static TuningDatabase load(Path userFile, String shippedJson) {
        List<String> problems = new ArrayList<>();
        List<Entry> shipped = List.of();
        if (shippedJson != null) {
            try {
                shipped = parse(shippedJson);
            } catch (IllegalArgumentException e) {
                problems.add("shipped tuning defaults are damaged and ignored: " + e.getMessage());
            }
        }
        List<Entry> user = List.of();
        if (userFile != null && Files.isRegularFile(userFile)) {
            try {
                user = parse(Files.readString(userFile));
            } catch (IOException | IllegalArgumentException e) {
                problems.add("tuning file " + userFile + " is damaged and ignored (" + e.getMessage()
                        + "); run `kernelbridge tune` to write a new one");
            }
        }
        problems.forEach(p -> LOG.log(System.Logger.Level.WARNING, p));
        return new TuningDatabase(user, shipped, problems);
    }

    /** What was wrong with the files read, one line each (empty when all were sound). */
    public List<String> problems() { return problems; }

    /** The most specific entry for this kernel, dtype and device, user entries first at each level. */
    public Optional<Match> lookup(String kernel, String dtype, Identity id) {
        for (Level level : Level.values()) {
            for (var source : List.of(Map.entry("user", user), Map.entry("shipped", shipped))) {
                for (Entry e : source.getValue()) {
                    if (e.matches(kernel, dtype, id).orElse(null) == level) {
                        return Optional.of(new Match(e, level, source.getKey()));
                    }
                }
            }
        }
        return Optional.empty();
    }

    /**
     * Writes {@code entry} into the user's file, replacing an entry for the same kernel, dtype and
     * identity. A damaged file is kept beside it as {@code .damaged} and a new one started. The
     * write is atomic: readers see the old file or the new one.
     */
    public static void record(Path userFile, Entry entry) {
        List<Entry> entries = new ArrayList<>();
        if (Files.isRegularFile(userFile)) {
            try {
                entries.addAll(parse(Files.readString(userFile)));
            } catch (IOException | IllegalArgumentException e) {
                try {
                    Files.move(userFile, userFile.resolveSibling(userFile.getFileName() + ".damaged"), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException moveFailure) {
                    throw new UncheckedIOException(moveFailure);
                }
            }
        }
        entries.removeIf(e -> e.kernel().equals(entry.kernel()) && e.dtype().equals(entry.dtype())
                && Objects.equals(e.vendor(), entry.vendor()) && Objects.equals(e.device(), entry.device())
                && Objects.equals(e.driver(), entry.driver()));
        entries.add(entry);
        try {
            Files.createDirectories(userFile.getParent());
            Path tmp = Files.createTempFile(userFile.getParent(), userFile.getFileName().toString(), ".tmp");
            Files.writeString(tmp, render(entries));
            Files.move(tmp, userFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write tuning file " + userFile, e);
        }
    }

    public static List<Entry> parse(String text) {
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage());
        }
        if (!root.isJsonObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        JsonObject o = root.getAsJsonObject();
        if (!FORMAT.equals(string(o, "format"))) {
            throw new IllegalArgumentException("format is not \"" + FORMAT + "\"");
        }
        if (!o.has("version") || !o.get("version").isJsonPrimitive() || o.get("version").getAsDouble() != VERSION) {
            throw new IllegalArgumentException("version is not " + VERSION);
        }
        if (!o.has("entries") || !o.get("entries").isJsonArray()) {
            throw new IllegalArgumentException("entries is not a list");
        }
        List<Entry> entries = new ArrayList<>();
        int index = 0;
        for (JsonElement el : o.getAsJsonArray("entries")) {
            try {
                entries.add(entry(el));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("entry " + index + ": " + e.getMessage());
            }
            index++;
        }
        return entries;
    }

    private static Entry entry(JsonElement el) {
        if (!el.isJsonObject()) {
            throw new IllegalArgumentException("not an object");
        }
        JsonObject e = el.getAsJsonObject();
        String kernel = Objects.requireNonNull(string(e, "kernel"), "kernel is missing");
        String dtype = Objects.requireNonNull(string(e, "dtype"), "dtype is missing");
        if (!e.has("parameters") || !e.get("parameters").isJsonObject()) {
            throw new IllegalArgumentException("parameters is missing");
        }
        Map<String, Integer> params = new LinkedHashMap<>();
        for (var p : e.getAsJsonObject("parameters").entrySet()) {
            double v = p.getValue().getAsDouble();
            if (v != Math.rint(v)) {
                throw new IllegalArgumentException(p.getKey() + " is not an integer");
            }
            params.put(p.getKey(), (int) v);
        }
        if (kernel.equals("gemm")) {
            GemmParameters.fromDefines(params); // rejects values the kernel does not support
        }
        Provenance prov = null;
        if (e.has("provenance") && e.get("provenance").isJsonObject()) {
            JsonObject p = e.getAsJsonObject("provenance");
            prov = new Provenance(string(p, "tuned"), string(p, "host"),
                    p.has("gflops") ? p.get("gflops").getAsDouble() : 0, string(p, "shape"), string(p, "tool"));
        }
        return new Entry(kernel, dtype, string(e, "vendor"), string(e, "device"), string(e, "driver"), params, prov);
    }

    private static String string(JsonObject o, String key) {
        JsonElement v = o.get(key);
        if (v == null || v.isJsonNull()) {
            return null;
        }
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(key + " is not a string");
        }
        return v.getAsString();
    }

    public static String render(List<Entry> entries) {
        JsonObject root = new JsonObject();
        root.addProperty("format", FORMAT);
        root.addProperty("version", VERSION);
        JsonArray list = new JsonArray();
        for (Entry e : entries) {
            JsonObject o = new JsonObject();
            o.addProperty("kernel", e.kernel());
            o.addProperty("dtype", e.dtype());
            if (e.vendor() != null) o.addProperty("vendor", e.vendor());
            if (e.device() != null) o.addProperty("device", e.device());
            if (e.driver() != null) o.addProperty("driver", e.driver());
            JsonObject params = new JsonObject();
            e.parameters().entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(p -> params.addProperty(p.getKey(), p.getValue()));
            o.add("parameters", params);
            if (e.provenance() != null) {
                JsonObject p = new JsonObject();
                Provenance pv = e.provenance();
                p.addProperty("tuned", pv.tuned());
                p.addProperty("host", pv.host());
                p.addProperty("gflops", Math.round(pv.gflops() * 10) / 10.0);
                p.addProperty("shape", pv.shape());
                p.addProperty("tool", pv.tool());
                o.add("provenance", p);
            }
            list.add(o);
        }
        root.add("entries", list);
        Gson gson = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();
        return gson.toJson(root) + "\n";
    }
}
