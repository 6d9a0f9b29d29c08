package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;

/**
 * A device buffer together with the exact bits uploaded into it, so that a test can tell which
 * elements a call changed, NaN payloads included.
 */
public final class Operand implements AutoCloseable {
    public final DType dtype;
    public final long[] bits;
    public final DeviceBuffer buffer;

    private Operand(DType dtype, long[] bits, DeviceBuffer buffer) {
        this.dtype = dtype;
        this.bits = bits;
        this.buffer = buffer;
    }

    /** Uploads raw bit patterns (F32 patterns in the low 32 bits). */
    public static Operand ofBits(KernelBridge bridge, Device device, DType dtype, long[] bits) {
        DeviceBuffer buf = bridge.allocate(device, dtype, bits.length);
        if (dtype == DType.F32) {
            float[] f = new float[bits.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = Float.intBitsToFloat((int) bits[i]);
            }
            buf.copyFrom(f);
        } else {
            double[] d = new double[bits.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = Double.longBitsToDouble(bits[i]);
            }
            buf.copyFrom(d);
        }
        return new Operand(dtype, bits.clone(), buf);
    }

    /** Uploads values, rounded to the element type. */
    public static Operand of(KernelBridge bridge, Device device, DType dtype, double[] values) {
        return ofBits(bridge, device, dtype, toBits(dtype, values));
    }

    public static long[] toBits(DType dtype, double[] values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = dtype == DType.F32 ? Float.floatToRawIntBits((float) values[i]) & 0xffffffffL : Double.doubleToRawLongBits(values[i]);
        }
        return bits;
    }

    public static double[] values(DType dtype, long[] bits) {
        double[] v = new double[bits.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = dtype == DType.F32 ? Float.intBitsToFloat((int) bits[i]) : Double.longBitsToDouble(bits[i]);
        }
        return v;
    }

    /** The buffer's current bits. */
    public long[] downloadBits() {
        long[] out = new long[bits.length];
        if (dtype == DType.F32) {
            float[] f = buffer.toFloatArray();
            for (int i = 0; i < f.length; i++) {
                out[i] = Float.floatToRawIntBits(f[i]) & 0xffffffffL;
            }
        } else {
            double[] d = buffer.toDoubleArray();
            for (int i = 0; i < d.length; i++) {
                out[i] = Double.doubleToRawLongBits(d[i]);
            }
        }
        return out;
    }

    /** Index of the first element whose bits differ from the upload, or -1. */
    public long firstChange() {
        long[] now = downloadBits();
        for (int i = 0; i < now.length; i++) {
            if (now[i] != bits[i]) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public void close() {
        buffer.close();
    }
}
