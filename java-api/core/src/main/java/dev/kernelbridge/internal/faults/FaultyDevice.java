package dev.kernelbridge.internal.faults;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real device with faults injected as its {@link FaultPlan} says: the work itself is done by the
 * device underneath, so a test or {@code demo --chaos} exercises the real backend and the real
 * failover. Native codes of injected faults are negative and named {@code INJECTED_*}.
 */
public final class FaultyDevice implements BackendDevice {
    /** How long an injected hang lasts at most when nobody interrupts it. */
    private static final long HANG_LIMIT_MS = 10 * 60 * 1000;

    private final String id;
    private final BackendDevice device;
    private final FaultPlan plan;
    private final AtomicLong launches = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();
    private final AtomicLong injected = new AtomicLong();
    /** Allocations and launches together, for {@code fail-call}. */
    private final AtomicLong calls = new AtomicLong();
    private volatile boolean lost;
    private final FaultPlan.Gradual gradual;
    /** Corrected memory errors injected so far (the ce-trend fault). */
    private final AtomicLong corrected = new AtomicLong();
    /** Draws of the gradual faults, seeded: the same plan gives the same run. */
    private final java.util.SplittableRandom random;
    private final double ceFactor;
    private int spikeLeft;
    private double spikeFactor;

    public FaultyDevice(String id, BackendDevice device, FaultPlan plan) {
        this.id = id;
        this.device = device;
        this.plan = plan;
        this.gradual = plan.gradual();
        this.random = new java.util.SplittableRandom(gradual.seed());
        this.ceFactor = gradual.ceFactor() > 0 ? gradual.ceFactor() : 10 + 40 * random.nextDouble();
    }


    /** The device without its faults: for peers asking whether they can address it. */
    public static BackendDevice unwrap(BackendDevice d) {
        return d instanceof FaultyDevice f ? f.device : d;
    }

    /** Launches seen so far, the failed and hung ones included. */
    public long launches() { return launches.get(); }

    /** Faults injected so far. */
    public long injected() { return injected.get(); }

    @Override
    public DeviceInfo info() { return device.info(); }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        failIfItsCall("allocation of " + elements + " " + dtype.label());
        long n = allocations.incrementAndGet();
        if (plan.oomEvery() > 0 && n % plan.oomEvery() == 0 && take()) {
            throw new DeviceOutOfMemoryException(id, -4, "INJECTED_OUT_OF_MEMORY",
                    "injected out-of-memory on allocation " + n + " (" + elements + " " + dtype.label() + ")");
        }
        return device.allocate(dtype, elements);
    }

    @Override
    public boolean sharesHostMemory() { return device.sharesHostMemory(); }

    @Override
    public double expectedGflops(DType dtype) { return device.expectedGflops(dtype); }

    @Override
    public java.util.Map<String, String> details() { return device.details(); }

    /** The real device's telemetry, with the planned corrected errors added to its own. */
    @Override
    public dev.kernelbridge.DeviceTelemetry telemetry() {
        dev.kernelbridge.DeviceTelemetry real = device.telemetry();
        if (!gradual.trend()) {
            return real;
        }
        long own = Math.max(0, real.correctedMemoryErrors());
        return new dev.kernelbridge.DeviceTelemetry(own + corrected.get(), Math.max(0, real.uncorrectedMemoryErrors()), real.retiredPages(),
                real.spareRowsLeft(), real.throttleEvents(), real.linkReplays(), real.driverEvents(), real.temperatureCelsius(),
                "fault plan over " + real.source());
    }

    @Override
    public BackendBuffer wrapHost(MemorySegment hostMemory) { return device.wrapHost(hostMemory); }

    @Override
    public boolean addresses(BackendDevice other) { return device.addresses(unwrap(other)); }

    @Override
    public boolean reduce(ReduceOp op, DType dtype, List<BackendBuffer> inputs, long inByteOffset,
                          List<BackendBuffer> outputs, long outByteOffset, long count) {
        return device.reduce(op, dtype, inputs, inByteOffset, outputs, outByteOffset, count);
    }

    @Override
    public void gemm(GemmCall call) {
        long t0 = System.nanoTime();
        long n = beforeLaunch();
        poisoned(n, call);
        device.gemm(call);
        afterLaunch(n, t0);
        if (plan.corruptEvery() > 0 && n % plan.corruptEvery() == 0 && take()) {
            corruptFirstValue(call);
        }
    }

    /** A grouped launch is one launch: it fails, hangs or is corrupted (in its first group) as a whole. */
    @Override
    public void gemmGrouped(List<GemmCall> calls) {
        long t0 = System.nanoTime();
        long n = beforeLaunch();
        for (GemmCall c : calls) {
            poisoned(n, c);
        }
        device.gemmGrouped(calls);
        afterLaunch(n, t0);
        if (plan.corruptEvery() > 0 && n % plan.corruptEvery() == 0 && !calls.isEmpty() && take()) {
            corruptFirstValue(calls.getFirst());
        }
    }

    /** The plan's poisoned work: a GEMM of that inner dimension fails here, as it would on any device. */
    private void poisoned(long n, GemmCall call) {
        if (plan.poisonK() > 0 && call.k() == plan.poisonK()) {
            throw new DeviceException(id, -5, "INJECTED_LAUNCH_FAILURE", "injected poisoned work (k = " + call.k() + ") at launch " + n);
        }
    }

    /** Counts a launch and injects what the plan says before it; returns the launch's number. */
    private long beforeLaunch() {
        failIfItsCall("launch " + (launches.get() + 1));
        long n = launches.incrementAndGet();
        if (lost) {
            throw new DeviceLostException(id, -999, "INJECTED_DEVICE_LOST", "device was lost at an earlier launch", null);
        }
        if (!plan.latency().isZero() && n >= plan.latencyFrom()) {
            sleep(plan.latency().toMillis());
        }
        if (plan.loseAt() > 0 && n >= plan.loseAt() && take()) {
            lost = true;
            throw new DeviceLostException(id, -999, "INJECTED_DEVICE_LOST", "injected loss of the device at launch " + n, null);
        }
        if (gradual.trend() && n >= gradual.ceTrendFrom() + gradual.ceRamp()) {
            lost = true;
            throw new DeviceLostException(id, -999, "INJECTED_DEVICE_LOST", "the failing memory the corrected errors announced gave out at launch "
                    + n, null);
        }
        if (plan.failEvery() > 0 && n % plan.failEvery() == 0 && take()) {
            throw new DeviceException(id, -5, "INJECTED_LAUNCH_FAILURE", "injected launch failure at launch " + n);
        }
        if (plan.hangEvery() > 0 && n % plan.hangEvery() == 0 && take()) {
            sleep(HANG_LIMIT_MS);
            throw new DeviceException(id, -6, "INJECTED_HANG", "injected hang at launch " + n + " ended");
        }
        return n;
    }

    /**
     * The gradual faults after launch {@code n} (begun at {@code t0}): its corrected errors, and the
     * wait that makes it last its step time times the slowdown, noise and spike factors.
     */
    private void afterLaunch(long n, long t0) {
        if (!gradual.trend() && !gradual.timed()) {
            return;
        }
        long target;
        synchronized (random) {
            if (gradual.trend()) {
                double ramp = n < gradual.ceTrendFrom() ? 0 : Math.min(1, (double) (n - gradual.ceTrendFrom()) / gradual.ceRamp());
                corrected.addAndGet(poisson(gradual.ceBase() * (1 + (ceFactor - 1) * ramp)));
            }
            if (!gradual.timed()) {
                return;
            }
            double factor = n >= gradual.slowFrom() ? gradual.slow() : 1;
            if (gradual.noise() > 0) {
                factor *= Math.exp(gradual.noise() * gaussian());
            }
            if (spikeLeft == 0 && gradual.spikes() > 0 && random.nextDouble() < gradual.spikes()) {
                spikeLeft = 1 + random.nextInt(3);
                spikeFactor = 1.5 + 1.5 * random.nextDouble();
            }
            if (spikeLeft > 0) {
                spikeLeft--;
                factor *= spikeFactor;
            }
            target = t0 + Math.round(gradual.step().toNanos() * factor);
        }
        long wait;
        while ((wait = target - System.nanoTime()) > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(wait);
        }
    }

    private long poisson(double lambda) {
        double limit = Math.exp(-lambda), p = random.nextDouble();
        long k = 0;
        while (p > limit) {
            p *= random.nextDouble();
            k++;
        }
        return k;
    }

    private double gaussian() {
        double u = 1 - random.nextDouble(), v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** Flips the top exponent bit of C's first element: one large, silent error (its magnitude moves by a factor near 2^128: 0 becomes 2, 1 infinity, 18 about 5e-38). */
    private static void corruptFirstValue(GemmCall call) {
        int es = call.dtype().byteSize();
        long at = call.offsetC() * es;
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment one = arena.allocate(es, es);
            call.c().copyOut(at, one);
            if (es == 2) {
                one.set(ValueLayout.JAVA_SHORT, 0, (short) (one.get(ValueLayout.JAVA_SHORT, 0) ^ (1 << 14)));
            } else if (es == 4) {
                one.set(ValueLayout.JAVA_INT, 0, one.get(ValueLayout.JAVA_INT, 0) ^ (1 << 30));
            } else {
                one.set(ValueLayout.JAVA_LONG, 0, one.get(ValueLayout.JAVA_LONG, 0) ^ (1L << 62));
            }
            call.c().copyIn(at, one);
        }
    }

    /** The {@code fail-call} fault: this device call fails when it is the planned one (once: the count only grows). */
    private void failIfItsCall(String what) {
        long n = calls.incrementAndGet();
        if (plan.failCall() != n) {
            return;
        }
        injected.incrementAndGet();
        String message = "injected " + plan.failAs().name().toLowerCase(java.util.Locale.ROOT) + " failure at device call " + n + " (" + what + ")";
        throw switch (plan.failAs()) {
            case OOM -> new DeviceOutOfMemoryException(id, -6, "INJECTED_OUT_OF_MEMORY", message);
            case ALLOCATION -> new DeviceOutOfMemoryException(id, -4, "INJECTED_MEM_OBJECT_ALLOCATION_FAILURE", message);
            case RESOURCES -> new DeviceException(id, -5, "INJECTED_OUT_OF_RESOURCES", message);
            case LAUNCH -> new DeviceException(id, -9999, "INJECTED_LAUNCH_FAILURE", message);
        };
    }

    private boolean take() {
        if (injected.get() >= plan.times()) {
            return false;
        }
        return injected.incrementAndGet() <= plan.times();
    }

    private void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException(id, -6, "INJECTED_HANG", "interrupted while injecting a delay");
        }
    }
}
