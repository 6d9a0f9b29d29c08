package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.clSetKernelArg;

/** Sets kernel arguments in order, with the exact C types the kernel declares. */
final class KernelArgs {
    private final long kernel;
    private final String deviceId;
    private final String name;
    private int index;

    KernelArgs(long kernel, String deviceId, String name) {
        this.kernel = kernel;
        this.deviceId = deviceId;
        this.name = name;
    }

    /** ulong, size_t or a cl_mem handle. */
    KernelArgs u64(long v) { return check(clSetKernelArg(kernel, index, new long[] {v})); }

    /** int or uint. */
    KernelArgs i32(int v) { return check(clSetKernelArg(kernel, index, new int[] {v})); }

    /** real: float in an F32 program, double in an F64 one. */
    KernelArgs real(boolean isDouble, double v) {
        return check(isDouble ? clSetKernelArg(kernel, index, new double[] {v}) : clSetKernelArg(kernel, index, new float[] {(float) v}));
    }

    /** A scalar of gemm.cl's compute type: double (F64), int bits (I32: the kernel's uint), else float. */
    KernelArgs scalar(dev.kernelbridge.DType computeType, double v) {
        return switch (computeType) {
            case F64 -> check(clSetKernelArg(kernel, index, new double[] {v}));
            case I32 -> i32((int) v);
            default -> check(clSetKernelArg(kernel, index, new float[] {(float) v}));
        };
    }

    private KernelArgs check(int code) {
        ClErrors.check(code, deviceId, "argument " + index + " of " + name);
        index++;
        return this;
    }
}
