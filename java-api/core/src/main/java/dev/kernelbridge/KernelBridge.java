package dev.kernelbridge;

import dev.kernelbridge.GemmChecks.Region;
import dev.kernelbridge.internal.Lifetime;
import dev.kernelbridge.internal.collective.DistributedGroup;
import dev.kernelbridge.internal.collective.InProcessGroup;
import dev.kernelbridge.internal.dispatch.Scheduler;
import dev.kernelbridge.internal.dispatch.Telemetry;
import dev.kernelbridge.internal.faults.FaultPlan;
import dev.kernelbridge.internal.faults.FaultyDevice;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.Transport;
import dev.kernelbridge.spi.TransportProvider;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;

/**
 * The entry point: discovers backends through {@link ServiceLoader}, lists their devices, allocates
 * device memory, runs GEMMs and builds communicators. Thread-safe; one instance per process is
 * typical. {@link #close()} waits for operations in flight, frees every buffer still open and closes
 * the backends; anything used afterwards throws {@link IllegalStateException}.
 */
public final class KernelBridge implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.kernelbridge");

    final Lifetime lifetime = new Lifetime("KernelBridge");
    private final Config config;
    private final List<BackendStatus> statuses;
    private final List<Backend> backends;
    private final java.util.Map<String, Backend> backendsByName;
    private final List<Device> devices;
    private final Device defaultDevice;
    private final String defaultReason;
    private final Set<DeviceBuffer> openBuffers = ConcurrentHashMap.newKeySet();
    private final Set<Communicator> openCommunicators = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong allocatedBytes = new java.util.concurrent.atomic.AtomicLong();
    private final ExecutorService asyncExecutor = Executors.newVirtualThreadPerTaskExecutor();
    private final Telemetry telemetry = new Telemetry();
    private final Scheduler scheduler;
    private final Dispatch dispatch;
    /** One per distributed group, each with communication of its own; left when this bridge closes. */
    private final List<Transport> transports = new ArrayList<>();
    private volatile Blas blas;
    private final List<dev.kernelbridge.spi.DeviceCollectives> vendorEngines = new java.util.concurrent.CopyOnWriteArrayList<>();

    private KernelBridge(Config config, List<BackendStatus> statuses, List<Backend> backends, java.util.Map<String, Backend> backendsByName,
                         List<Device> devices) {
        this.config = config;
        this.statuses = List.copyOf(statuses);
        this.backends = List.copyOf(backends);
        this.backendsByName = java.util.Map.copyOf(backendsByName);
        this.devices = List.copyOf(devices);
        DefaultChoice choice = chooseDefault(this.devices);
        this.defaultDevice = choice.device();
        this.defaultReason = choice.reason();
        this.dispatch = Dispatch.fromConfig(config);
        int failures = config.getInt(Config.HEALTH_FAILURES);
        if (failures < 1) {
            throw new IllegalArgumentException(Config.HEALTH_FAILURES.property() + " must be >= 1, got " + failures);
        }
        List<Scheduler.DeviceEntry> entries = new ArrayList<>();
        for (Device d : devices) {
            entries.add(new Scheduler.DeviceEntry(d.id(), d.spi(), d.spi().runsOnCallerThread(), d.backend().equals("cpu")));
        }
        for (String id : dispatch.devices()) {
            device(id); // names an unknown id now rather than at the first GEMM (and before the scheduler starts threads)
        }
        List<String> spares = spares(config, devices);
        this.scheduler = new Scheduler(entries, telemetry, failures, config.getDuration(Config.HEALTH_PROBE),
                config.getDouble(Config.CANARY, 0, 1), Math.max(1, config.getInt(Config.CANARY_TILE)), spares);
    }

    /** The hot spares {@code kernelbridge.spares} names: devices of this bridge, at least one device left serving. */
    private static List<String> spares(Config config, List<Device> devices) {
        String value = config.get(Config.SPARES).trim();
        if (value.isEmpty()) {
            return List.of();
        }
        List<String> ids = devices.stream().map(Device::id).toList();
        List<String> spares = new ArrayList<>();
        for (String id : value.split(",")) {
            String s = id.trim();
            if (!ids.contains(s)) {
                throw new IllegalArgumentException(Config.SPARES.property() + " must name devices of this bridge " + ids + ", got '" + s + "'");
            }
            if (!spares.contains(s)) {
                spares.add(s);
            }
        }
        if (spares.size() == ids.size()) {
            throw new IllegalArgumentException(Config.SPARES.property() + " must leave at least one device serving, got every device: " + value);
        }
        return spares;
    }

    /** Opens every available backend (or those named by {@code kernelbridge.backend}). */
    public static KernelBridge open() {
        return open(Config.fromEnvironment());
    }

    /**
     * Opens backends as {@code config} says. A backend named explicitly that cannot be opened is an
     * error with its real cause; with "auto", unavailable backends are skipped, one log line each.
     */
    public static KernelBridge open(Config config) {
        GemmChecks.requireNonNull(config, "config must not be null");
        return open(config, discover());
    }

    /**
     * Opens the given providers instead of discovering them: for conformance kits, decorators
     * (fault injection, counting) and embedders that assemble their backends themselves.
     */
    public static KernelBridge open(Config config, List<? extends BackendProvider> providers) {
        GemmChecks.requireNonNull(config, "config must not be null");
        GemmChecks.requireNonNull(providers, "providers must not be null");
        String selection = config.get(Config.BACKEND).toLowerCase(Locale.ROOT);
        boolean auto = selection.equals("auto");
        List<String> wanted = auto ? List.of() : Arrays.stream(selection.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        if (!auto && wanted.isEmpty()) {
            throw new IllegalArgumentException(Config.BACKEND.property() + " must be auto or backend names, got '" + selection + "'");
        }

        java.util.Map<String, FaultPlan> faults = FaultPlan.parse(config.get(Config.FAULTS));
        Dispatch.fromConfig(config); // a malformed dispatch setting fails before any backend opens
        List<BackendStatus> statuses = new ArrayList<>();
        List<Backend> backends = new ArrayList<>();
        java.util.Map<String, Backend> backendsByName = new java.util.HashMap<>();
        List<Device> devices = new ArrayList<>();
        for (BackendProvider p : providers) {
            String name = p.name();
            if (!auto && !wanted.contains(name)) {
                statuses.add(new BackendStatus(name, p.priority(), BackendStatus.State.NOT_SELECTED, "not in " + Config.BACKEND.property() + "=" + selection));
                continue;
            }
            Availability a = probe(p);
            if (!a.available()) {
                statuses.add(new BackendStatus(name, p.priority(), BackendStatus.State.UNAVAILABLE, a.cause(), a.fix()));
                LOG.log(Level.DEBUG, "backend {0} skipped: {1}", name, a.cause());
                continue;
            }
            try {
                Backend backend = p.open(config);
                backends.add(backend);
                backendsByName.put(name, backend);
                List<BackendDevice> ds = backend.devices();
                for (int i = 0; i < ds.size(); i++) {
                    FaultPlan plan = faults.remove(name + ":" + i);
                    BackendDevice spi = plan == null ? ds.get(i) : new FaultyDevice(name + ":" + i, ds.get(i), plan);
                    if (plan != null) {
                        LOG.log(Level.WARNING, "{0}:{1} has faults injected ({2})", name, i, Config.FAULTS.property());
                    }
                    devices.add(new Device(name, i, spi));
                }
                statuses.add(new BackendStatus(name, p.priority(), BackendStatus.State.OPENED, a.cause()));
                LOG.log(Level.DEBUG, "backend {0} opened with {1} device(s): {2}", name, ds.size(), a.cause());
            } catch (RuntimeException | LinkageError e) {
                statuses.add(new BackendStatus(name, p.priority(), BackendStatus.State.FAILED, String.valueOf(e)));
                LOG.log(Level.WARNING, "backend " + name + " failed to open; continuing without it", e);
            }
        }
        for (String name : wanted) {
            BackendStatus s = statuses.stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
            if (s == null || s.state() != BackendStatus.State.OPENED) {
                backends.forEach(KernelBridge::closeQuietly);
                String known = providers.stream().map(BackendProvider::name).collect(Collectors.joining(", "));
                throw new IllegalStateException("backend '" + name + "' was requested by " + config.source(Config.BACKEND) + " but "
                        + (s == null ? "is not on the class path (found: " + known + ")" : "is unavailable: " + s.detail()));
            }
        }
        if (devices.isEmpty()) {
            backends.forEach(KernelBridge::closeQuietly);
            boolean noCpu = providers.stream().noneMatch(p -> p.name().equals("cpu"));
            throw new IllegalStateException((providers.isEmpty() ? "no KernelBridge backend is on the class path" : "no device is available; backends: " + statuses)
                    + (noCpu ? "; add the artifact dev.kernelbridge:kernelbridge-cpu (the CPU backend, always available; it brings kernelbridge-api)" : ""));
        }
        if (!faults.isEmpty()) {
            backends.forEach(KernelBridge::closeQuietly);
            throw new IllegalArgumentException(Config.FAULTS.property() + " names devices that do not exist: " + faults.keySet()
                    + " (devices: " + devices.stream().map(Device::id).toList() + ")");
        }
        try {
            return new KernelBridge(config, statuses, backends, backendsByName, devices);
        } catch (RuntimeException e) {
            backends.forEach(KernelBridge::closeQuietly);
            throw e;
        }
    }

    private static List<BackendProvider> discover() {
        List<BackendProvider> found = new ArrayList<>();
        var it = ServiceLoader.load(BackendProvider.class, KernelBridge.class.getClassLoader()).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                BackendProvider p = it.next();
                if (p.spiVersion() != BackendProvider.SPI_VERSION) {
                    LOG.log(Level.WARNING, "backend {0} skipped: built for SPI version {1}, this is {2}", p.name(), p.spiVersion(), BackendProvider.SPI_VERSION);
                    continue;
                }
                if (found.stream().noneMatch(q -> q.name().equals(p.name()))) {
                    found.add(p);
                }
            } catch (ServiceConfigurationError | LinkageError e) {
                LOG.log(Level.WARNING, "a backend provider could not be loaded; continuing without it", e);
            }
        }
        found.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return found;
    }

    private static Availability probe(BackendProvider p) {
        try {
            return p.probe();
        } catch (RuntimeException | LinkageError e) {
            return Availability.unavailable("probe threw " + e);
        }
    }

    /** The settings this bridge was opened with. */
    public Config config() { return config; }

    /** Every backend found, what became of it and why. */
    public List<BackendStatus> backends() { return statuses; }

    /** Every device of every opened backend, highest-priority backend first. */
    public List<Device> devices() {
        checkOpen();
        return devices;
    }

    /** The device with this id ("cpu:0"); IllegalArgumentException naming the known ids otherwise. */
    public Device device(String id) {
        checkOpen();
        for (Device d : devices) {
            if (d.id().equals(id)) {
                return d;
            }
        }
        throw new IllegalArgumentException("device must be one of " + devices.stream().map(Device::id).toList() + ", got '" + id + "'");
    }

    /**
     * Where work goes when no device is named (allocate, communicators(n), the CLI): the fastest
     * device by its tuned F32 throughput, accelerators before CPUs when nothing is known, then by
     * backend priority. A CPU device of another backend (PoCL: OpenCL on these same cores) never
     * outranks the native CPU backend, which runs the same cores without a runtime in between.
     * {@link #defaultDeviceReason()} says why in words.
     */
    public Device defaultDevice() {
        checkOpen();
        return defaultDevice;
    }

    /** Why {@link #defaultDevice()} is the default, for {@code devices} and {@code doctor}. */
    public String defaultDeviceReason() {
        checkOpen();
        return defaultReason;
    }

    private record DefaultChoice(Device device, String reason) { }

    static DefaultChoice chooseDefault(List<Device> devices) {
        if (devices.isEmpty()) {
            return new DefaultChoice(null, "no device");
        }
        Device nativeCpu = devices.stream().filter(d -> d.backend().equals("cpu")).findFirst().orElse(null);
        List<String> sameCores = new ArrayList<>();
        Device best = null;
        double bestRate = -1;
        for (Device d : devices) { // in backend-priority order, so ties keep the higher priority
            if (nativeCpu != null && d != nativeCpu && d.kind() == DeviceKind.CPU) {
                sameCores.add(d.id());
                continue;
            }
            double rate = d.spi().expectedGflops(DType.F32);
            boolean better = best == null
                    || (rate > 0 && bestRate > 0 ? rate > bestRate
                    : rank(d.kind()) > rank(best.kind()) || (rank(d.kind()) == rank(best.kind()) && rate > bestRate));
            if (better) {
                best = d;
                bestRate = rate;
            }
        }
        StringBuilder why = new StringBuilder(best.id());
        if (bestRate > 0) {
            why.append(String.format(": the fastest by tuning data (%.0f GFLOP/s f32 expected)", bestRate));
        } else if (best.kind() != DeviceKind.CPU) {
            why.append(": an accelerator (").append(best.kind().name().toLowerCase(java.util.Locale.ROOT)).append("), of the highest-priority backend");
        } else {
            why.append(best == nativeCpu ? ": the native CPU backend" : ": the only kind of device there is");
        }
        if (!sameCores.isEmpty()) {
            why.append("; ").append(String.join(", ", sameCores)).append(sameCores.size() == 1 ? " runs" : " run")
                    .append(" on the same CPU cores and does not outrank it");
        }
        return new DefaultChoice(best, why.toString());
    }

    private static int rank(DeviceKind kind) {
        return kind == DeviceKind.GPU || kind == DeviceKind.ACCELERATOR ? 1 : 0;
    }

    /** Allocates {@code length} elements of {@code dtype} on {@code device}; contents unspecified. */
    public DeviceBuffer allocate(Device device, DType dtype, long length) {
        GemmChecks.requireNonNull(device, "device must not be null");
        GemmChecks.requireNonNull(dtype, "dtype must not be null");
        if (!devices.contains(device)) {
            throw new IllegalArgumentException("device must belong to this KernelBridge, got " + device);
        }
        if (!device.supports(dtype)) {
            throw new IllegalArgumentException("dtype " + dtype.label() + " is not supported by " + device.id() + " (supports " + device.dtypes() + ")");
        }
        if (length < 0 || length > Long.MAX_VALUE / dtype.byteSize()) {
            throw new IllegalArgumentException("length must be in [0, " + Long.MAX_VALUE / dtype.byteSize() + "], got " + length);
        }
        long bytes = length * dtype.byteSize();
        if (device.maxAllocationBytes() > 0 && bytes > device.maxAllocationBytes()) {
            // Refused before the backend sees it: on the CPU the kernel would hand the pages out and kill the process later.
            throw new DeviceOutOfMemoryException(device.id(), 0, "MAX_ALLOCATION", bytes + " bytes exceed the largest single allocation of "
                    + device.id() + " (Device.maxAllocationBytes = " + device.maxAllocationBytes() + ")");
        }
        lifetime.acquire();
        try {
            BackendBuffer spi = device.spi().allocate(dtype, length);
            DeviceBuffer buffer = new DeviceBuffer(this, device, dtype, length, spi);
            openBuffers.add(buffer);
            allocatedBytes.addAndGet(buffer.byteSize());
            return buffer;
        } finally {
            lifetime.release();
        }
    }

    /** Allocates on the default device. */
    public DeviceBuffer allocate(DType dtype, long length) {
        return allocate(defaultDevice(), dtype, length);
    }

    /**
     * Runs {@code op} on the device that holds its buffers and returns when C is written. The data
     * lives there, so there is no failover (host-memory GEMMs through {@link #blas()} have it); the
     * attempt has the dispatch deadline, its outcome counts toward the device's health, and a
     * quarantined or lost device refuses the call with a {@link DeviceException}.
     */
    public void gemm(GemmOp op) {
        Prepared p = prepare(op);
        if (p == null) {
            return;
        }
        scheduler.runOn(p.device.id(), p.call, dispatch.deadline().orElse(null), p.release);
    }

    /**
     * Checks {@code op} now (bad arguments throw here, before the future exists) and runs it in the
     * background. Independent async GEMMs may run concurrently; chain futures to order them.
     */
    public CompletableFuture<Void> gemmAsync(GemmOp op) {
        Prepared p = prepare(op);
        if (p == null) {
            return CompletableFuture.completedFuture(null);
        }
        try {
            return CompletableFuture.runAsync(() -> scheduler.runOn(p.device.id(), p.call, dispatch.deadline().orElse(null), p.release),
                    asyncExecutor);
        } catch (RuntimeException e) {
            p.release.run();
            throw e;
        }
    }

    /** True when {@code device} has kernel parameters {@link #tune} can search. */
    public boolean isTunable(Device device) {
        return device != null && device.spi() instanceof dev.kernelbridge.spi.TunableDevice;
    }

    /**
     * Searches the kernel parameters of {@code device} (on the CPU: which GEMM routine each shape class
     * runs on) for at most {@code budget} and stores the best in the user's tuning database, used by the
     * next {@link #open()}. UnsupportedOperationException when the device has nothing to tune.
     */
    public TuningReport tune(Device device, Duration budget, TuningReport.Listener listener) {
        GemmChecks.requireNonNull(device, "device must not be null");
        GemmChecks.requireNonNull(budget, "budget must not be null");
        if (!devices.contains(device)) {
            throw new IllegalArgumentException("device must belong to this KernelBridge, got " + device);
        }
        if (budget.isNegative() || budget.isZero()) {
            throw new IllegalArgumentException("budget must be positive, got " + budget);
        }
        if (!(device.spi() instanceof dev.kernelbridge.spi.TunableDevice tunable)) {
            throw new UnsupportedOperationException(device.id() + " has no tunable kernels");
        }
        lifetime.acquire();
        try {
            return tunable.tune(budget, listener == null ? (f, m) -> { } : listener);
        } finally {
            lifetime.release();
        }
    }

    /** The BLAS-style facade on heap arrays and memory segments, placed as {@code kernelbridge.dispatch} says. */
    public Blas blas() {
        checkOpen();
        Blas b = blas;
        if (b == null) {
            b = blas = new Blas(this, dispatch);
        }
        return b;
    }

    /**
     * The BLAS-style facade placed by {@code dispatch} (a policy per call site). A dispatch without a
     * deadline of its own gets {@code kernelbridge.gemm.deadline}, when that is set.
     */
    public Blas blas(Dispatch dispatch) {
        return new Blas(this, effective(dispatch));
    }

    /**
     * Grouped GEMM (the ragged mixture-of-experts form and lists of independent GEMMs) as one call,
     * placed as {@code kernelbridge.dispatch} says; {@link GroupedGemm#with(Dispatch)} places it otherwise.
     */
    public GroupedGemm groupedGemm() {
        checkOpen();
        return new GroupedGemm(this, dispatch);
    }

    /** The dispatch {@link #blas()} uses, from the configuration. */
    public Dispatch dispatch() { return dispatch; }

    /** Health, counters and live throughput of every device, and the scheduler's totals. */
    public Metrics metrics() {
        long retired;
        synchronized (this) {
            retired = transports.stream().mapToLong(Transport::retiredBytes).sum();
        }
        return scheduler.metrics().withRetiredTransportBytes(retired);
    }

    /** The health state of {@code device}. */
    public HealthState health(Device device) {
        GemmChecks.requireNonNull(device, "device must not be null");
        return scheduler.state(device.id());
    }

    /**
     * Runs the verified probe GEMM (small integers, exact, each dtype) on {@code device} now. A
     * quarantined device that passes returns to HEALTHY; a working one that fails is quarantined.
     * False for a lost device.
     */
    public boolean probe(Device device) {
        GemmChecks.requireNonNull(device, "device must not be null");
        if (!devices.contains(device)) {
            throw new IllegalArgumentException("device must belong to this KernelBridge, got " + device);
        }
        lifetime.acquire();
        try {
            return scheduler.probe(device.id());
        } finally {
            lifetime.release();
        }
    }

    /**
     * Calls {@code listener} for every failover, health change and canary mismatch, in order, on a
     * thread of the bridge; close the handle to stop.
     */
    public AutoCloseable subscribe(java.util.function.Consumer<DispatchEvent> listener) {
        GemmChecks.requireNonNull(listener, "listener must not be null");
        return telemetry.subscribe(listener);
    }

    Scheduler scheduler() { return scheduler; }

    /** Runs the async forms of the operation types this bridge hands out. */
    java.util.concurrent.Executor asyncExecutor() { return asyncExecutor; }

    /** Dispatch for a facade of one call site: {@code dispatch} with the configured deadline when it has none of its own. */
    Dispatch effective(Dispatch dispatch) {
        GemmChecks.requireNonNull(dispatch, "dispatch must not be null");
        checkOpen();
        for (String id : dispatch.devices()) {
            device(id);
        }
        return dispatch.deadline().isEmpty() && this.dispatch.deadline().isPresent()
                ? dispatch.withDeadline(this.dispatch.deadline().get()) : dispatch;
    }

    boolean owns(Device device) { return devices.contains(device); }

    void requireOpen() { checkOpen(); }

    /**
     * A group of {@code devices.size()} in-process ranks, rank r on {@code devices.get(r)}; the same
     * device may appear several times. Drive each rank from its own thread or asynchronously.
     */
    public List<Communicator> communicators(List<Device> devices) {
        GemmChecks.requireNonNull(devices, "devices must not be null");
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("devices must name at least one rank");
        }
        checkOpen(); // a group made after close would outlive the bridge that frees its buffers
        Duration timeout = config.getDuration(Config.COLLECTIVE_TIMEOUT);
        List<BackendDevice> rankDevices = new ArrayList<>();
        for (int r = 0; r < devices.size(); r++) {
            Device d = devices.get(r);
            GemmChecks.requireNonNull(d, "devices[" + r + "] must not be null");
            if (!this.devices.contains(d)) {
                throw new IllegalArgumentException("devices[" + r + "] must belong to this KernelBridge, got " + d);
            }
            rankDevices.add(d.spi());
        }
        InProcessGroup group = new InProcessGroup(rankDevices, vendorCollectives(devices, rankDevices));
        List<Communicator> ranks = new ArrayList<>();
        for (int r = 0; r < devices.size(); r++) {
            ranks.add(new Communicator(this, group, r, r, devices.get(r), timeout));
        }
        openCommunicators.addAll(ranks);
        return List.copyOf(ranks);
    }

    /**
     * The backend's own collective engine for these ranks, where {@code kernelbridge.collective.vendor=allow}
     * and the ranks are distinct devices of one backend that offers one; else null (rank-order reductions).
     */
    private dev.kernelbridge.spi.DeviceCollectives vendorCollectives(List<Device> ranks, List<BackendDevice> rankDevices) {
        String vendor = config.get(Config.COLLECTIVE_VENDOR);
        if (!vendor.equals("allow") && !vendor.equals("off")) {
            throw new IllegalArgumentException(Config.COLLECTIVE_VENDOR.property() + " must be allow or off, got '" + vendor + "'");
        }
        String backend = ranks.getFirst().backend();
        if (vendor.equals("off") || ranks.size() < 2 || ranks.stream().anyMatch(d -> !d.backend().equals(backend))
                || Set.copyOf(ranks).size() != ranks.size()) {
            return null;
        }
        var engine = backendsByName.get(backend).collectives(rankDevices).orElse(null);
        if (engine != null) {
            vendorEngines.add(engine);
            LOG.log(Level.DEBUG, "all-reduces of {0} run on {1}''s collective engine ({2})", ranks, backend, Config.COLLECTIVE_VENDOR.property());
        }
        return engine;
    }

    /**
     * This process's ranks in a distributed job (MPI, through the transport named by
     * {@code kernelbridge.transport}), one rank per entry of {@code localDevices}: rank =
     * process rank · localDevices.size() + index. Every process of the job must call this with the
     * same number of devices, and then the same collectives in the same order. With several local
     * devices, collectives are hierarchical: combined locally, exchanged across processes once.
     * Throws IllegalStateException naming the cause when no transport is available.
     */
    public List<Communicator> worldCommunicators(List<Device> localDevices) {
        GemmChecks.requireNonNull(localDevices, "localDevices must not be null");
        if (localDevices.isEmpty()) {
            throw new IllegalArgumentException("localDevices must name at least one rank");
        }
        List<BackendDevice> rankDevices = new ArrayList<>();
        for (int r = 0; r < localDevices.size(); r++) {
            Device d = localDevices.get(r);
            GemmChecks.requireNonNull(d, "localDevices[" + r + "] must not be null");
            if (!this.devices.contains(d)) {
                throw new IllegalArgumentException("localDevices[" + r + "] must belong to this KernelBridge, got " + d);
            }
            rankDevices.add(d.spi());
        }
        checkOpen();
        DistributedGroup group = new DistributedGroup(openTransport(), rankDevices);
        Duration timeout = config.getDuration(Config.COLLECTIVE_TIMEOUT);
        List<Communicator> ranks = new ArrayList<>();
        for (int m = 0; m < localDevices.size(); m++) {
            ranks.add(new Communicator(this, group, m, group.firstRank() + m, localDevices.get(m), timeout));
        }
        openCommunicators.addAll(ranks);
        return List.copyOf(ranks);
    }

    /** This process's single rank in a distributed job; see {@link #worldCommunicators(List)}. */
    public Communicator worldCommunicator(Device device) {
        return worldCommunicators(List.of(device)).getFirst();
    }

    /**
     * A transport for one more group: each group's calls travel apart from every other group's, so
     * two groups (of this bridge or another in the process) never take each other's messages,
     * whatever order their threads run in. Left when this bridge closes.
     */
    private synchronized Transport openTransport() {
        String wanted = config.get(Config.TRANSPORT);
        StringBuilder causes = new StringBuilder();
        for (TransportProvider p : ServiceLoader.load(TransportProvider.class, KernelBridge.class.getClassLoader())) {
            if (!wanted.equals("auto") && !wanted.equals(p.name())) {
                continue;
            }
            Availability a;
            try {
                a = p.probe();
            } catch (RuntimeException | LinkageError e) {
                a = Availability.unavailable("probe threw " + e);
            }
            if (a.available()) {
                Transport transport = p.open(config);
                transports.add(transport);
                LOG.log(Level.DEBUG, "transport {0} joined: {1}", p.name(), transport.description());
                return transport;
            }
            causes.append(causes.isEmpty() ? "" : "; ").append(p.name()).append(": ").append(a.cause());
        }
        throw new IllegalStateException("no distributed transport is available (kernelbridge.transport=" + wanted + ")"
                + (causes.isEmpty() ? ": no transport module on the class path (kernelbridge-mpi)" : ": " + causes));
    }

    /** {@code ranks} in-process ranks on the default device. */
    public List<Communicator> communicators(int ranks) {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks must be >= 1, got " + ranks);
        }
        return communicators(java.util.Collections.nCopies(ranks, defaultDevice()));
    }

    /** Waits for operations in flight, closes communicators, frees open buffers, closes backends. Idempotent. */
    @Override
    public void close() {
        scheduler.interruptAbandoned(); // an abandoned attempt still holds its buffers; let an injected hang end
        if (!lifetime.close()) {
            return;
        }
        asyncExecutor.shutdown();
        scheduler.close();
        telemetry.close();
        for (Communicator c : List.copyOf(openCommunicators)) {
            c.close();
        }
        for (DeviceBuffer b : List.copyOf(openBuffers)) {
            b.close();
        }
        for (dev.kernelbridge.spi.DeviceCollectives engine : vendorEngines) {
            engine.close();
        }
        for (Backend b : backends) {
            closeQuietly(b);
        }
        synchronized (this) {
            for (Transport t : transports) {
                t.close();
            }
            transports.clear();
        }
    }

    void forget(Communicator communicator) {
        openCommunicators.remove(communicator);
    }

    void forget(DeviceBuffer buffer) {
        if (openBuffers.remove(buffer)) {
            allocatedBytes.addAndGet(-buffer.byteSize());
        }
    }

    /**
     * The ledger: bytes of device memory held right now by open buffers of this bridge, on all
     * devices. Returns to its earlier value when the buffers allocated since are closed.
     */
    public long allocatedBytes() {
        return allocatedBytes.get();
    }

    private void checkOpen() {
        if (lifetime.isClosed()) {
            throw new IllegalStateException("KernelBridge is closed");
        }
    }

    private static void closeQuietly(Backend b) {
        try {
            b.close();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "closing a backend failed", e);
        }
    }

    /** A checked op with its buffers held open, or null for a BLAS quick return. */
    private record Prepared(Device device, GemmCall call, Runnable release) { }

    private Prepared prepare(GemmOp op) {
        GemmChecks.requireNonNull(op, "op must not be null");
        checkOpen();
        Region a = region("a", op.a, op.offsetA, op.lda, op.strideA);
        Region b = region("b", op.b, op.offsetB, op.ldb, op.strideB);
        Region c = region("c", op.c, op.offsetC, op.ldc, op.strideC);
        boolean work = GemmChecks.check(op.layout, op.transA, op.transB, op.m, op.n, op.k, op.alpha, op.beta, a, b, c, op.batchCount, op.zeroPointA, op.zeroPointB);
        Device device = op.c.device();
        for (DeviceBuffer input : new DeviceBuffer[] {op.a, op.b}) {
            if (input.device() != device) {
                throw new IllegalArgumentException((input == op.a ? "a" : "b") + " must be on the device of c (" + device.id() + "), got " + input.device().id());
            }
        }
        if (!devices.contains(device)) {
            throw new IllegalArgumentException("c must belong to this KernelBridge");
        }
        Runnable release = acquire(op);
        if (!work) {
            release.run();
            return null;
        }
        GemmCall call = GemmChecks.toCall(op.layout, op.transA, op.transB, op.m, op.n, op.k, op.alpha, op.beta,
                a, op.a.spi, b, op.b.spi, c, op.c.spi, op.batchCount, op.zeroPointA, op.zeroPointB);
        return new Prepared(device, call, release);
    }

    private Runnable acquire(GemmOp op) {
        try {
            return Lifetime.acquireAll(lifetime, op.a.lifetime, op.b.lifetime, op.c.lifetime);
        } catch (IllegalStateException e) {
            String which = lifetime.isClosed() ? "KernelBridge" : op.a.isClosed() ? "a" : op.b.isClosed() ? "b" : "c";
            throw new IllegalStateException(which + " is closed", e);
        }
    }

    private static Region region(String name, DeviceBuffer buffer, long offset, long ld, long stride) {
        return buffer == null
                ? new Region(name, null, 0, 0, DType.F32, offset, ld, stride)
                : new Region(name, buffer, 0, buffer.length(), buffer.dtype(), offset, ld, stride);
    }
}
