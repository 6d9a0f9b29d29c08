package dev.kernelbridge;

import dev.kernelbridge.internal.Lifetime;
import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.MemorySegment;

/**
 * Typed memory on one device: {@link #length()} elements of {@link #dtype()}. Created by
 * {@link KernelBridge#allocate}; free it with {@link #close()}. Use after close is an
 * {@link IllegalStateException}; closing while an operation reads or writes the buffer waits for
 * that operation. Copies are thread-safe, but concurrent writes to the same elements race as they
 * would on any memory.
 */
public final class DeviceBuffer implements AutoCloseable {
    private final KernelBridge bridge;
    private final Device device;
    private final DType dtype;
    private final long length;
    final BackendBuffer spi;
    final Lifetime lifetime;

    DeviceBuffer(KernelBridge bridge, Device device, DType dtype, long length, BackendBuffer spi) {
        this.bridge = bridge;
        this.device = device;
        this.dtype = dtype;
        this.length = length;
        this.spi = spi;
        this.lifetime = new Lifetime("buffer of " + length + " " + dtype.label() + " on " + device.id());
    }

    public Device device() { return device; }

    public DType dtype() { return dtype; }

    /** Number of elements. */
    public long length() { return length; }

    public long byteSize() { return length * dtype.byteSize(); }

    public boolean isClosed() { return lifetime.isClosed(); }

    /** Copies all of {@code source} into elements 0…source.length−1. Needs an F32 buffer. */
    public DeviceBuffer copyFrom(float[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType(DType.F32, "source");
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies all of {@code source} into elements 0…source.length−1. Needs an F64 buffer. */
    public DeviceBuffer copyFrom(double[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType(DType.F64, "source");
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies the bytes of {@code source} into this buffer starting at element {@code index}. */
    public DeviceBuffer copyFrom(long index, MemorySegment source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        long offset = checkRange(index, source.byteSize(), "source");
        use(() -> spi.copyIn(offset, source));
        return this;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an F32 buffer. */
    public float[] copyTo(float[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType(DType.F32, "target");
        copyTo(0, MemorySegment.ofArray(target));
        return target;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an F64 buffer. */
    public double[] copyTo(double[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType(DType.F64, "target");
        copyTo(0, MemorySegment.ofArray(target));
        return target;
    }

    /** Copies {@code target.byteSize()} bytes from element {@code index} on into {@code target}. */
    public void copyTo(long index, MemorySegment target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        if (target.isReadOnly()) {
            throw new IllegalArgumentException("target must be writable, got a read-only segment");
        }
        long offset = checkRange(index, target.byteSize(), "target");
        use(() -> spi.copyOut(offset, target));
    }

    /** The whole buffer as a new array. Needs an F32 buffer of at most 2^31−1 elements. */
    public float[] toFloatArray() {
        requireType(DType.F32, "this buffer");
        return copyTo(new float[arrayLength()]);
    }

    /** The whole buffer as a new array. Needs an F64 buffer of at most 2^31−1 elements. */
    public double[] toDoubleArray() {
        requireType(DType.F64, "this buffer");
        return copyTo(new double[arrayLength()]);
    }

    /** Frees the device memory. Idempotent; waits for operations that use the buffer. */
    @Override
    public void close() {
        if (lifetime.close()) {
            try {
                spi.release();
            } finally {
                bridge.forget(this);
            }
        }
    }

    @Override
    public String toString() { return lifetime.toString(); }

    private void use(Runnable action) {
        bridge.lifetime.acquire();
        try {
            lifetime.acquire();
            try {
                action.run();
            } finally {
                lifetime.release();
            }
        } finally {
            bridge.lifetime.release();
        }
    }

    private int arrayLength() {
        if (length > Integer.MAX_VALUE - 8) {
            throw new UnsupportedOperationException("buffer of " + length + " elements does not fit a Java array; use copyTo(long, MemorySegment)");
        }
        return (int) length;
    }

    private void requireType(DType expected, String argument) {
        if (dtype != expected) {
            throw new IllegalArgumentException(argument + " must match the buffer type " + dtype.label() + ", got " + expected.label());
        }
    }

    private long checkRange(long index, long bytes, String argument) {
        if (bytes % dtype.byteSize() != 0) {
            throw new IllegalArgumentException(argument + " size must be a multiple of " + dtype.byteSize() + " bytes (" + dtype.label() + "), got " + bytes);
        }
        long count = bytes / dtype.byteSize();
        if (index < 0 || index > length || count > length - index) {
            throw new IllegalArgumentException("index must be >= 0 and index + " + argument + " elements (" + count
                    + ") <= buffer length " + length + ", got index " + index);
        }
        return index * dtype.byteSize();
    }
}
