import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes reports/reliability/README.md: every case of RELIABILITY.md (reports/reliability/cases.tsv)
 * with the tests that check it and how they last ran. A test declares its cases with JUnit tags
 * ({@code @Tag("R16")}) on the method or its class; results come from the surefire reports of the
 * last build (target/surefire-reports/TEST-*.xml); a case with no test says why, from
 * reports/reliability/not-covered.tsv. Run by ci/reliability-report after ci/test.
 */
public class ReliabilityReport {
    record Test(String module, String declaringClass, String method, boolean inherited) { }

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        Map<String, String> cases = tsv(root.resolve("reports/reliability/cases.tsv"));
        Map<String, String> notCovered = tsv(root.resolve("reports/reliability/not-covered.tsv"));
        Map<String, List<Test>> tests = new TreeMap<>();
        Pattern tag = Pattern.compile("@Tag\\(\"(R\\d\\d)\"\\)");
        Pattern method = Pattern.compile("\\s(?:void|default void)\\s+(\\w+)\\s*\\(");
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/") && !p.toString().contains("/target/")).toList()) {
                List<String> lines = Files.readAllLines(f);
                String cls = f.getFileName().toString().replace(".java", "");
                String module = root.relativize(f).toString().replaceFirst("/src/.*", "");
                boolean kitInterface = f.toString().contains("/tck/src/main/");
                List<String> pending = new ArrayList<>(), classTags = new ArrayList<>();
                for (String line : lines) {
                    Matcher t = tag.matcher(line);
                    while (t.find()) {
                        pending.add(t.group(1));
                    }
                    if (!pending.isEmpty() && (line.contains(" class ") || line.contains(" interface "))) {
                        classTags.addAll(pending);
                        pending.clear();
                        continue;
                    }
                    Matcher m = method.matcher(line);
                    if (m.find() && (!pending.isEmpty() || (!classTags.isEmpty() && line.contains("void")))) {
                        List<String> ids = new ArrayList<>(pending);
                        if (!classTags.isEmpty() && isTestMethod(lines, line)) {
                            ids.addAll(classTags);
                        }
                        for (String id : ids) {
                            tests.computeIfAbsent(id, k -> new ArrayList<>()).add(new Test(module, cls, m.group(1), kitInterface));
                        }
                        pending.clear();
                    }
                }
            }
        }
        Map<String, int[]> results = new LinkedHashMap<>(); // "Class#method" and "*#method" -> passed, failed, skipped
        Pattern testcase = Pattern.compile("<testcase name=\"([^\"(\\[]+)[^\"]*\" classname=\"([^\"]+)\"[^>]*?(/>|>(.*?)</testcase>)", Pattern.DOTALL);
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith("TEST-") && p.toString().contains("surefire-reports")).toList()) {
                Matcher m = testcase.matcher(Files.readString(f));
                while (m.find()) {
                    String body = m.group(4) == null ? "" : m.group(4);
                    int k = body.contains("<failure") || body.contains("<error") ? 1 : body.contains("<skipped") ? 2 : 0;
                    String simple = m.group(2).substring(m.group(2).lastIndexOf('.') + 1);
                    results.computeIfAbsent(simple + "#" + m.group(1), x -> new int[3])[k]++;
                    results.computeIfAbsent("*#" + m.group(1), x -> new int[3])[k]++;
                }
            }
        }
        StringBuilder md = new StringBuilder("# Reliability: RELIABILITY.md's 40 cases and the tests that check them\n\n");
        md.append("Written by `ci/reliability-report` from the tests' `@Tag(\"Rnn\")` and the surefire reports of the last build ")
          .append("(run `ci/test` first). Counts are test executions: passed / failed / skipped.\n\n");
        md.append("| case | what | tests | passed | failed | skipped |\n|---|---|---|---:|---:|---:|\n");
        int covered = 0;
        List<String> gaps = new ArrayList<>();
        for (Map.Entry<String, String> c : cases.entrySet()) {
            List<Test> ts = tests.getOrDefault(c.getKey(), List.of());
            if (ts.isEmpty()) {
                md.append("| ").append(c.getKey()).append(" | ").append(c.getValue()).append(" | **not covered**: ")
                  .append(notCovered.getOrDefault(c.getKey(), "no test yet")).append(" | | | |\n");
                gaps.add(c.getKey());
                continue;
            }
            covered++;
            int[] sum = new int[3];
            List<String> names = new ArrayList<>();
            for (Test t : ts) {
                int[] r = results.getOrDefault((t.inherited() ? "*" : t.declaringClass()) + "#" + t.method(), new int[3]);
                for (int i = 0; i < 3; i++) {
                    sum[i] += r[i];
                }
                names.add("`" + t.declaringClass() + "#" + t.method() + "`" + (r[0] + r[1] + r[2] == 0 ? " (not run)" : ""));
            }
            md.append("| ").append(c.getKey()).append(" | ").append(c.getValue()).append(" | ").append(String.join(", ", names))
              .append(" | ").append(sum[0]).append(" | ").append(sum[1]).append(" | ").append(sum[2]).append(" |\n");
        }
        md.append("\n").append(covered).append(" of ").append(cases.size()).append(" cases have tests; not covered: ")
          .append(gaps.isEmpty() ? "none" : String.join(", ", gaps)).append(".\n");
        Files.writeString(root.resolve("reports/reliability/README.md"), md);
        System.out.println("reports/reliability/README.md: " + covered + " of " + cases.size() + " cases covered");
    }

    private static boolean isTestMethod(List<String> lines, String line) {
        int i = lines.indexOf(line);
        for (int j = Math.max(0, i - 4); j < i; j++) {
            if (lines.get(j).contains("@Test") || lines.get(j).contains("@ParameterizedTest") || lines.get(j).contains("@FuzzTest")) {
                return true;
            }
        }
        return false;
    }

    private static Map<String, String> tsv(Path p) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        if (Files.exists(p)) {
            for (String l : Files.readAllLines(p)) {
                if (!l.isBlank() && !l.startsWith("#")) {
                    String[] kv = l.split("\t", 2);
                    m.put(kv[0], kv.length > 1 ? kv[1] : "");
                }
            }
        }
        return m;
    }
}
