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
 * It does not change results; same name and devices as the backend it wraps.
 */
public final class CountingBackendProvider implements BackendProvider {
    private final BackendProvider inner;
    public final AtomicLong allocations = new AtomicLong();
    public final AtomicLong gemmLaunches = new AtomicLong();
    public final AtomicLong copies = new AtomicLong();
    /** Device-side reduction steps offered to the backend (it may decline them). */
    public final AtomicLong reductions = new AtomicLong();
    /** All-to-all blocks a device copied itself ({@link BackendDevice#copy} returned true). */
    public final AtomicLong deviceCopies = new AtomicLong();

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
            public void close() { backend.close(); }
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
            return new Buffer(inner.allocate(dtype, elements));
        }

        @Override
        public boolean sharesHostMemory() { return inner.sharesHostMemory(); }

        @Override
        public BackendBuffer wrapHost(MemorySegment hostMemory) { return new Buffer(inner.wrapHost(hostMemory)); }

        @Override
        public void gemm(GemmCall call) {
            gemmLaunches.incrementAndGet();
            inner.gemm(call.withBuffers(unwrap(call.a()), unwrap(call.b()), unwrap(call.c())));
        }

        /** A grouped launch counts as one, and reaches the backend's own grouped entry point. */
        @Override
        public void gemmGrouped(List<GemmCall> calls) {
            gemmLaunches.incrementAndGet();
            inner.gemmGrouped(calls.stream().map(c -> c.withBuffers(unwrap(c.a()), unwrap(c.b()), unwrap(c.c()))).toList());
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

        Buffer(BackendBuffer inner) { this.inner = inner; }

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
        public void release() { inner.release(); }
    }
}
