package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A decorator over a real backend that counts what reaches it: allocations, copies and kernel
 * launches. Lets the kit prove that rejected calls and BLAS quick returns never reach a device.
 * It also keeps a device-side ledger — bytes and buffers the backend allocated and has not been
 * asked to release yet, the dispatcher's own staging included, which the bridge's
 * {@code allocatedBytes()} does not see — and counts releases of a buffer already released and
 * closes of the backend, so the kit can prove every error path frees what it took, exactly once.
 * It does not change results; same name and devices as the backend it wraps.
 */
public final class CountingBackendProvider implements BackendProvider {
    private final BackendProvider inner;
    public final AtomicLong allocations = new AtomicLong();
    public final AtomicLong gemmLaunches = new AtomicLong();
    /** Launches that returned (normally or not): equal to {@link #gemmLaunches} when none is in flight. */
    public final AtomicLong gemmLaunchesEnded = new AtomicLong();
    public final AtomicLong copies = new AtomicLong();
    /** Device-side reduction steps offered to the backend (it may decline them). */
    public final AtomicLong reductions = new AtomicLong();
    /** All-to-all blocks a device copied itself ({@link BackendDevice#copy} returned true). */
    public final AtomicLong deviceCopies = new AtomicLong();
    /** Bytes allocated through {@code allocate} and not yet released (wrapped host memory is not the device's). */
    public final AtomicLong liveBytes = new AtomicLong();
    /** Buffers allocated and not yet released. */
    public final AtomicLong liveBuffers = new AtomicLong();
    /** Releases of a buffer that had been released already: the SPI promises exactly one. */
    public final AtomicLong doubleReleases = new AtomicLong();
    /** Times the backend was closed: the SPI promises once per open. */
    public final AtomicLong backendCloses = new AtomicLong();

    public CountingBackendProvider(BackendProvider inner) {
        this.inner = inner;
    }

    public long deviceCalls() {
        return allocations.get() + gemmLaunches.get() + copies.get() + reductions.get();
    }

    @Override
    public String name() { return inner.name(); }

    @Override
    public int priority() { return inner.priority(); }

    @Override
    public Availability probe() { return inner.probe(); }

    @Override
    public Backend open(Config config) {
        Backend backend = inner.open(config);
        List<BackendDevice> devices = backend.devices().stream().<BackendDevice>map(Device::new).toList();
        return new Backend() {
            @Override
            public List<BackendDevice> devices() { return devices; }

            @Override
            public void close() {
                backendCloses.incrementAndGet();
                backend.close();
            }
        };
    }

    private final class Device implements BackendDevice {
        private final BackendDevice inner;

        Device(BackendDevice inner) { this.inner = inner; }

        @Override
        public DeviceInfo info() { return inner.info(); }

        @Override
        public BackendBuffer allocate(DType dtype, long elements) {
            allocations.incrementAndGet();
            BackendBuffer b = inner.allocate(dtype, elements);
            liveBytes.addAndGet(b.byteSize());
            liveBuffers.incrementAndGet();
            return new Buffer(b, true);
        }

        @Override
        public boolean sharesHostMemory() { return inner.sharesHostMemory(); }

        @Override
        public java.util.Map<String, String> details() { return inner.details(); }

        @Override
        public BackendBuffer wrapHost(MemorySegment hostMemory) { return new Buffer(inner.wrapHost(hostMemory), false); }

        @Override
        public void gemm(GemmCall call) {
            gemmLaunches.incrementAndGet();
            try {
                inner.gemm(call.withBuffers(unwrap(call.a()), unwrap(call.b()), unwrap(call.c())));
            } finally {
                gemmLaunchesEnded.incrementAndGet();
            }
        }

        /** A grouped launch counts as one, and reaches the backend's own grouped entry point. */
        @Override
        public void gemmGrouped(List<GemmCall> calls) {
            gemmLaunches.incrementAndGet();
            try {
                inner.gemmGrouped(calls.stream().map(c -> c.withBuffers(unwrap(c.a()), unwrap(c.b()), unwrap(c.c()))).toList());
            } finally {
                gemmLaunchesEnded.incrementAndGet();
            }
        }

        @Override
        public boolean addresses(BackendDevice other) {
            return inner.addresses(other instanceof Device d ? d.inner : other);
        }

        @Override
        public boolean reduce(dev.kernelbridge.ReduceOp op, DType dtype, List<BackendBuffer> inputs, long inByteOffset,
                              List<BackendBuffer> outputs, long outByteOffset, long count) {
            reductions.incrementAndGet();
            return inner.reduce(op, dtype, inputs.stream().map(this::unwrap).toList(), inByteOffset,
                    outputs.stream().map(this::unwrap).toList(), outByteOffset, count);
        }

        @Override
        public boolean copy(BackendBuffer from, long fromByteOffset, BackendBuffer to, long toByteOffset, long bytes) {
            boolean done = inner.copy(unwrap(from), fromByteOffset, unwrap(to), toByteOffset, bytes);
            if (done) {
                deviceCopies.incrementAndGet();
            }
            return done;
        }

        private BackendBuffer unwrap(BackendBuffer b) {
            return b instanceof Buffer w ? w.inner : b;
        }
    }

    private final class Buffer implements BackendBuffer {
        private final BackendBuffer inner;
        private final boolean allocated;
        private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

        Buffer(BackendBuffer inner, boolean allocated) {
            this.inner = inner;
            this.allocated = allocated;
        }

        @Override
        public long byteSize() { return inner.byteSize(); }

        @Override
        public java.util.Optional<MemorySegment> hostSegment() { return inner.hostSegment(); }

        @Override
        public void copyIn(long byteOffset, MemorySegment source) {
            copies.incrementAndGet();
            inner.copyIn(byteOffset, source);
        }

        @Override
        public void copyOut(long byteOffset, MemorySegment target) {
            copies.incrementAndGet();
            inner.copyOut(byteOffset, target);
        }

        @Override
        public void release() {
            if (!released.compareAndSet(false, true)) {
                doubleReleases.incrementAndGet();
                return; // a second release would free someone else's memory in a real backend
            }
            if (allocated) {
                liveBytes.addAndGet(-inner.byteSize());
                liveBuffers.decrementAndGet();
            }
            inner.release();
        }
    }
}
