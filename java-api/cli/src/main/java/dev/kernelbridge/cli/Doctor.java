package dev.kernelbridge.cli;

import dev.kernelbridge.BackendStatus;
import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What this JVM and machine give KernelBridge, and how to fix what is missing. */
final class Doctor {
    record Check(String name, boolean ok, String detail, String fix) { }

    private Doctor() { }

    static List<Check> checks(KernelBridge bridge) {
        List<Check> checks = new ArrayList<>();
        Runtime.Version v = Runtime.version();
        checks.add(new Check("jdk", v.feature() >= 25, "Java " + v + " (" + System.getProperty("java.vendor") + ") at " + System.getProperty("java.home"),
                "install a JDK 25 (e.g. Temurin 25) and set JAVA_HOME"));
        boolean vector = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        checks.add(new Check("vector-api", vector, vector ? "jdk.incubator.vector enabled" : "jdk.incubator.vector not enabled: CPU kernels run scalar",
                "add --add-modules jdk.incubator.vector to the java command (./kernelbridge does)"));
        boolean nativeAccess = Doctor.class.getModule().isNativeAccessEnabled();
        checks.add(new Check("native-access", nativeAccess, nativeAccess ? "enabled for " + moduleName() : "not enabled: FFM backends warn or fail",
                "add --enable-native-access=ALL-UNNAMED (class path) or =dev.kernelbridge.api,... (module path)"));
        for (BackendStatus s : bridge.backends()) {
            boolean ok = s.state() == BackendStatus.State.OPENED;
            checks.add(new Check("backend " + s.name(), ok || s.state() == BackendStatus.State.NOT_SELECTED,
                    s.state().name().toLowerCase(java.util.Locale.ROOT) + ": " + s.detail(), ok ? "" : fixFor(s.fix())));
        }
        for (dev.kernelbridge.Device d : bridge.devices()) {
            // The pre-flight check: an exact GEMM per dtype on the device, compared with the known answer.
            boolean passed = bridge.probe(d);
            dev.kernelbridge.DeviceMetrics m = bridge.metrics().device(d.id());
            checks.add(new Check("device " + d.id(), passed, passed ? "passes its verified probe GEMM (" + m.state() + "); holds "
                    + Main.gib(d.memoryBytes()) + ", one buffer up to " + Main.gib(d.maxAllocationBytes())
                    : m.state() + ": " + m.reason(), "the device computes wrong results or none: exclude it (kernelbridge.backend) "
                    + "or update its driver; kernelbridge devices --watch shows whether it recovers"));
        }
        if (!bridge.devices().isEmpty()) {
            checks.add(new Check("default device", true, bridge.defaultDeviceReason(),
                    "name another with --device or kernelbridge.dispatch=pinned:ID"));
        }
        for (String module : List.of("opencl", "cuda")) {
            if (bridge.backends().stream().noneMatch(s -> s.name().equals(module))) {
                checks.add(new Check("backend " + module, true, "module not on the class path", ""));
            }
        }
        boolean anyRoutine = false;
        for (dev.kernelbridge.cpu.routines.CpuRoutineProvider r : java.util.ServiceLoader.load(
                dev.kernelbridge.cpu.routines.CpuRoutineProvider.class, Doctor.class.getClassLoader())) {
            anyRoutine = true;
            dev.kernelbridge.spi.Availability a = r.probe(Config.fromEnvironment());
            // Optional: without it cpu:0 runs its own kernels for these calls, so not a failure, but say how to add it.
            checks.add(new Check("cpu routine " + r.name(), true, a.available() ? "available: " + a.cause()
                    : "not available (cpu:0 runs its Vector API kernels instead): " + a.cause() + (a.fix().isEmpty() ? "" : "; to add it: " + a.fix()), ""));
        }
        for (dev.kernelbridge.Device d : bridge.devices()) {
            // Not a failure when a device reports nothing (a VM, a backend without it): the rules that
            // drain a device before it fails then have its speed and errors only (docs/foresight.md).
            dev.kernelbridge.DeviceTelemetry t = d.telemetry();
            checks.add(new Check("telemetry " + d.id(), true, t.reportsAnything() ? t.source() + ": " + Main.signs(t)
                    : "reports nothing (" + t.source() + "): its trouble is seen from its speed and errors only", ""));
        }
        bridge.devices().stream().filter(d -> d.details().containsKey("routine.choices")).findFirst().ifPresent(cpu ->
                checks.add(new Check(cpu.id() + " routine choices", true, cpu.details().get("routine.choices") + "; machine "
                        + cpu.details().get("machine"), "")));
        if (!anyRoutine) {
            checks.add(new Check("cpu routines", true, "module not on the class path (OpenBLAS and oneDNN for cpu:0 need kernelbridge-cpu-blas)", ""));
        }
        boolean anyTransport = false;
        for (dev.kernelbridge.spi.TransportProvider t : java.util.ServiceLoader.load(dev.kernelbridge.spi.TransportProvider.class,
                Doctor.class.getClassLoader())) {
            anyTransport = true;
            dev.kernelbridge.spi.Availability a = t.probe();
            checks.add(new Check("transport " + t.name(), a.available(), (a.available() ? "available: " : "unavailable: ") + a.cause(),
                    a.available() ? "" : fixFor(a.fix())));
        }
        if (!anyTransport) {
            checks.add(new Check("transport mpi", true, "module not on the class path (distributed collectives need kernelbridge-mpi)", ""));
        }
        return checks;
    }

    static List<Map<String, Object>> knobs(Config config) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Config.Knob k : Config.CORE_KNOBS) {
            Map<String, Object> m = Json.object();
            m.put("property", k.property());
            m.put("environment", k.environment());
            m.put("value", config.get(k));
            m.put("source", config.source(k));
            m.put("meaning", k.meaning());
            out.add(m);
        }
        return out;
    }

    private static String moduleName() {
        Module m = Doctor.class.getModule();
        return m.isNamed() ? m.getName() : "the class path";
    }

    /** The provider's own command (what demo and devices print too), or a pointer when it gives none. */
    private static String fixFor(String fix) {
        return fix.isEmpty() ? "see the backend's documentation (kernelbridge devices --verbose shows its cause)" : fix;
    }
}
