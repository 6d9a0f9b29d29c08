package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GPU only: latency through our FFM binding against JCuda (the JNI binding users would otherwise
 * pick), same GPU, same run. {@code launch}: one launch of gemm.cl's scale_c on a 64×64 matrix and
 * a synchronize — through KernelBridge (a GEMM with k = 0, arguments checked, range descriptor
 * written) and through JCuda's driver API (the same shipped PTX, the same range descriptor).
 * {@code sgemm64}: a 64×64×64 SGEMM on device buffers — KernelBridge's CUDA backend (cuBLAS or its
 * own kernels, whichever measured faster) against JCublas2's cublasSgemm. Without a CUDA device the
 * setup fails naming the cause: run it on a GPU host,
 * {@code java -jar jmh-bench/target/benchmarks.jar CudaBindingBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CudaBindingBenchmark {
    private static final int N = 64;

    @Param({"kernelbridge", "jcuda"})
    public String impl;

    @Param({"launch", "sgemm64"})
    public String op;

    private KernelBridge bridge;
    private DeviceBuffer a, b, c;
    private GemmOp gemm, scale;

    private CUcontext context;
    private CUfunction scaleC;
    private CUdeviceptr ja, jb, jc;
    private Pointer scaleParams;
    private cublasHandle cublas;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        if (impl.equals("kernelbridge")) {
            bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cuda"));
            Device gpu = bridge.device("cuda:0");
            a = bridge.allocate(gpu, DType.F32, (long) N * N);
            b = bridge.allocate(gpu, DType.F32, (long) N * N);
            c = bridge.allocate(gpu, DType.F32, (long) N * N);
            gemm = GemmOp.of(Layout.COLUMN_MAJOR, N, N, N, 1, a, b, 0, c);
            scale = GemmOp.of(Layout.COLUMN_MAJOR, N, N, 0, 1, a, b, 0.5, c);
            bridge.gemm(gemm);
            return;
        }
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, 0);
        context = new CUcontext();
        JCudaDriver.cuCtxCreate(context, 0, device);
        int[] major = {0}, minor = {0};
        JCudaDriver.cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
        JCudaDriver.cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
        ja = alloc();
        jb = alloc();
        jc = alloc();
        CUmodule module = new CUmodule();
        JCudaDriver.cuModuleLoadData(module, ptx(major[0] * 10 + minor[0]));
        scaleC = new CUfunction();
        JCudaDriver.cuModuleGetFunction(scaleC, module, "scale_c");
        CUdeviceptr range = new CUdeviceptr();
        JCudaDriver.cuModuleGetGlobal(range, new long[1], module, "kb_ndrange");
        JCudaDriver.cuMemcpyHtoD(range, Pointer.to(new long[] {N, N, 1}), 3L * Sizeof.LONG);
        scaleParams = Pointer.to(Pointer.to(new float[] {0.5f}), Pointer.to(jc), Pointer.to(new long[] {0}),
                Pointer.to(new long[] {N}), Pointer.to(new long[] {0}));
        cublas = new cublasHandle();
        JCublas2.cublasCreate(cublas);
    }

    private static CUdeviceptr alloc() {
        CUdeviceptr p = new CUdeviceptr();
        JCudaDriver.cuMemAlloc(p, (long) N * N * Sizeof.FLOAT);
        JCudaDriver.cuMemsetD8(p, (byte) 0, (long) N * N * Sizeof.FLOAT);
        return p;
    }

    /** The shipped PTX of gemm.cl (F32) for the newest architecture this GPU runs, NUL-terminated. */
    private static byte[] ptx(int cc) throws IOException {
        for (int arch : new int[] {90, 80, 75, 70}) {
            if (arch <= cc) {
                try (InputStream in = CudaBindingBenchmark.class.getResourceAsStream("/dev/kernelbridge/cuda/ptx/gemm-f32-sm_" + arch + ".ptx")) {
                    if (in != null) {
                        return (new String(in.readAllBytes(), StandardCharsets.UTF_8) + "\0").getBytes(StandardCharsets.UTF_8);
                    }
                }
            }
        }
        throw new IllegalStateException("no shipped PTX for compute capability " + cc);
    }

    @Benchmark
    public void run() {
        if (bridge != null) {
            bridge.gemm(op.equals("launch") ? scale : gemm);
            return;
        }
        if (op.equals("launch")) {
            JCudaDriver.cuLaunchKernel(scaleC, (N * N + 127) / 128, 1, 1, 128, 1, 1, 0, null, scaleParams, null);
        } else {
            JCublas2.cublasSgemm(cublas, cublasOperation.CUBLAS_OP_N, cublasOperation.CUBLAS_OP_N, N, N, N,
                    Pointer.to(new float[] {1f}), ja, N, jb, N, Pointer.to(new float[] {0f}), jc, N);
        }
        JCudaDriver.cuCtxSynchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (bridge != null) {
            bridge.close();
            return;
        }
        JCublas2.cublasDestroy(cublas);
        JCudaDriver.cuMemFree(ja);
        JCudaDriver.cuMemFree(jb);
        JCudaDriver.cuMemFree(jc);
        JCudaDriver.cuCtxDestroy(context);
    }
}
