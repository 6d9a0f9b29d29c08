package dev.kernelbridge;

import dev.kernelbridge.spi.Convert;
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

    /**
     * Copies all of {@code source} into elements 0…source.length−1. Needs an F32 buffer, or a BF16
     * or F16 one: then each value is rounded to nearest, ties to even (see {@link NarrowFloat}).
     */
    public DeviceBuffer copyFrom(float[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType("source", "float[]", DType.F32, DType.BF16, DType.F16);
        if (dtype == DType.F32) {
            return copyFrom(0, MemorySegment.ofArray(source));
        }
        short[] bits = new short[source.length];
        Convert.fromFloats(dtype, source, 0, MemorySegment.ofArray(bits), 0, source.length);
        return copyFrom(0, MemorySegment.ofArray(bits));
    }

    /** Copies all of {@code source} into elements 0…source.length−1. Needs an F64 buffer. */
    public DeviceBuffer copyFrom(double[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType("source", "double[]", DType.F64);
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies raw BF16 or F16 bits into elements 0…source.length−1. Needs a BF16 or F16 buffer. */
    public DeviceBuffer copyFrom(short[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType("source", "short[]", DType.BF16, DType.F16);
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies all of {@code source} into elements 0…source.length−1. Needs an I8 buffer. */
    public DeviceBuffer copyFrom(byte[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType("source", "byte[]", DType.I8);
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies all of {@code source} into elements 0…source.length−1. Needs an I32 buffer. */
    public DeviceBuffer copyFrom(int[] source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        requireType("source", "int[]", DType.I32);
        return copyFrom(0, MemorySegment.ofArray(source));
    }

    /** Copies the bytes of {@code source} into this buffer starting at element {@code index}. */
    public DeviceBuffer copyFrom(long index, MemorySegment source) {
        GemmChecks.requireNonNull(source, "source must not be null");
        long offset = checkRange(index, source.byteSize(), "source");
        checkReachable(source, "source");
        use(() -> spi.copyIn(offset, source));
        return this;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an F32, BF16 or F16 buffer (widened exactly). */
    public float[] copyTo(float[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType("target", "float[]", DType.F32, DType.BF16, DType.F16);
        if (dtype == DType.F32) {
            copyTo(0, MemorySegment.ofArray(target));
        } else {
            short[] bits = new short[target.length];
            copyTo(0, MemorySegment.ofArray(bits));
            Convert.toFloats(dtype, MemorySegment.ofArray(bits), 0, target, 0, target.length);
        }
        return target;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an F64 buffer. */
    public double[] copyTo(double[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType("target", "double[]", DType.F64);
        copyTo(0, MemorySegment.ofArray(target));
        return target;
    }

    /** Copies the raw bits of elements 0…target.length−1 into {@code target}. Needs a BF16 or F16 buffer. */
    public short[] copyTo(short[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType("target", "short[]", DType.BF16, DType.F16);
        copyTo(0, MemorySegment.ofArray(target));
        return target;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an I8 buffer. */
    public byte[] copyTo(byte[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType("target", "byte[]", DType.I8);
        copyTo(0, MemorySegment.ofArray(target));
        return target;
    }

    /** Copies elements 0…target.length−1 into {@code target}. Needs an I32 buffer. */
    public int[] copyTo(int[] target) {
        GemmChecks.requireNonNull(target, "target must not be null");
        requireType("target", "int[]", DType.I32);
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
        checkReachable(target, "target");
        use(() -> spi.copyOut(offset, target));
    }

    /** The whole buffer as a new array. Needs an F32, BF16 or F16 buffer of at most 2^31−1 elements. */
    public float[] toFloatArray() {
        requireType("this buffer", "float[]", DType.F32, DType.BF16, DType.F16);
        return copyTo(new float[arrayLength()]);
    }

    /** The whole buffer as a new array. Needs an F64 buffer of at most 2^31−1 elements. */
    public double[] toDoubleArray() {
        requireType("this buffer", "double[]", DType.F64);
        return copyTo(new double[arrayLength()]);
    }

    /** The whole buffer as a new array. Needs an I32 buffer of at most 2^31−1 elements. */
    public int[] toIntArray() {
        requireType("this buffer", "int[]", DType.I32);
        return copyTo(new int[arrayLength()]);
    }

    /** The whole buffer as a new array. Needs an I8 buffer of at most 2^31−1 elements. */
    public byte[] toByteArray() {
        requireType("this buffer", "byte[]", DType.I8);
        return copyTo(new byte[arrayLength()]);
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

    /**
     * A backend may hand a native segment's address to its driver, which no arena check guards: a
     * segment of a closed arena would be freed memory read or written natively, and one confined to
     * another thread memory that thread may free meanwhile. Both are refused here, before any copy.
     */
    private static void checkReachable(MemorySegment segment, String argument) {
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException("the arena of " + argument + " is closed");
        }
        if (!segment.isAccessibleBy(Thread.currentThread())) {
            throw new WrongThreadException("the segment " + argument + " is confined to another thread");
        }
    }

    private int arrayLength() {
        if (length > Integer.MAX_VALUE - 8) {
            throw new UnsupportedOperationException("buffer of " + length + " elements does not fit a Java array; use copyTo(long, MemorySegment)");
        }
        return (int) length;
    }

    private void requireType(String argument, String arrayType, DType... accepted) {
        for (DType t : accepted) {
            if (dtype == t) {
                return;
            }
        }
        throw new IllegalArgumentException(argument + " (" + arrayType + ") does not fit the buffer type " + dtype.label() + "; "
                + arrayType + " goes with " + java.util.Arrays.stream(accepted).map(DType::label).collect(java.util.stream.Collectors.joining(", ")));
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
