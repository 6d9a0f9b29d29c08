package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import dev.kernelbridge.Config;
import dev.kernelbridge.Device;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The KernelBridge conformance kit. A backend — built-in or a vendor's — proves itself by one
 * subclass that returns its provider:
 *
 * <pre>{@code
 * class MyBackendConformanceTest extends ConformanceKit {
 *     protected BackendProvider provider() { return new MyBackendProvider(); }
 * }
 * }</pre>
 *
 * Every test goes through the public API, exactly as a framework would. Areas (JUnit tags):
 * gemm-semantics, gemm-nan-handling, gemm-arguments, gemm-batched, gemm-grouped, gemm-limits, dtypes, determinism,
 * concurrency, lifetime, faults, collectives, capabilities, performance. A case needing something
 * the device does not declare (F64, memory for 2^31 elements) is skipped with its reason, never
 * failed or counted as passed. After the run, {@link ConformanceReport} writes the verdict as JSON
 * and Markdown to {@code target/kernelbridge-conformance/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(ConformanceReport.class)
public abstract class ConformanceKit
        implements GemmConformance, DTypeConformance, GroupedGemmConformance, CollectiveConformance, ResourceConformance, CapabilityConformance,
                   LifecycleConformance, SoakConformance, MemoryConformance {

    private KernelBridge bridge;
    private Device device;
    private List<Device> backendDevices;
    private List<CountingBackendProvider> counters;
    private final Map<String, Object> figures = new ConcurrentHashMap<>();

    /** The backend under test. */
    protected abstract BackendProvider provider();

    /** The device under test; the backend's first device unless overridden. */
    @Override
    public String deviceId() { return provider().name() + ":0"; }

    /** Settings for the bridge under test; defaults unless the backend needs a knob. */
    @Override
    public Config config() { return Config.defaults().with(Config.BACKEND, provider().name()); }

    /** File name of the report (without extension); the backend's name unless a kit runs it twice. */
    protected String reportName() { return provider().name(); }

    @Override
    public List<String> rankDevices() { return List.of(deviceId()); }

    @Override
    public List<BackendProvider> providers() { return List.of(provider()); }

    /**
     * True where the backend must be available (a CI job for its hardware): then an unavailable
     * backend fails the kit; otherwise every case is reported skipped with the backend's cause.
     */
    protected boolean requireAvailable() { return false; }

    private String unavailable;

    @BeforeAll
    void openBridge() {
        dev.kernelbridge.spi.Availability a = provider().probe();
        if (requireAvailable()) {
            org.junit.jupiter.api.Assertions.assertTrue(a.available(), provider().name() + " must be available here: " + a.cause());
        }
        if (!a.available()) {
            unavailable = provider().name() + " is unavailable: " + a.cause(); // each case reports itself skipped with this
            return;
        }
        counters = providers().stream().map(CountingBackendProvider::new).toList();
        bridge = KernelBridge.open(config(), counters);
        device = bridge.device(deviceId());
        backendDevices = bridge.devices().stream().filter(d -> d.backend().equals(provider().name())).toList();
    }

    /** Where the backend is unavailable, every case is skipped (and reported so), never passed. */
    @org.junit.jupiter.api.BeforeEach
    void requireBackend() {
        org.junit.jupiter.api.Assumptions.assumeTrue(unavailable == null, unavailable);
    }

    /** The backend's devices as opened (still describable after the bridge is closed). */
    List<Device> backendDevices() { return backendDevices; }

    @AfterAll
    void closeBridge() {
        if (bridge != null) {
            bridge.close();
        }
    }

    @Override
    public KernelBridge bridge() { return bridge; }

    @Override
    public Device device() { return device; }

    @Override
    public long deviceCalls() {
        return counters.stream().mapToLong(CountingBackendProvider::deviceCalls).sum();
    }

    @Override
    public Map<String, Object> reportFigures() { return figures; }
}
