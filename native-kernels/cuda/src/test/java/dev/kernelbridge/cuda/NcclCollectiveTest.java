package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NCCL all-reduce across the GPUs of this process, opted in with kernelbridge.collective.vendor=allow:
 * every rank gets the sum (exact here: small integers). Needs two CUDA devices and libnccl; skipped
 * (never passed) elsewhere.
 */
@Tag("gpu")
class NcclCollectiveTest {
    @Test
    void allReduceAcrossGpusThroughNccl() {
        assumeTrue(new CudaBackendProvider().probe().available(), "no CUDA device");
        assumeTrue(Nccl.load().isPresent(), "libnccl.so.2 is not installed");
        Config config = Config.defaults().with(Config.BACKEND, "cuda").with(Config.COLLECTIVE_VENDOR, "allow");
        try (KernelBridge bridge = KernelBridge.open(config)) {
            List<Device> gpus = bridge.devices();
            assumeTrue(gpus.size() >= 2, "needs two CUDA devices, found " + gpus.size());
            List<Communicator> ranks = bridge.communicators(gpus);
            int n = 1 << 20;
            List<DeviceBuffer> bufs = new ArrayList<>();
            for (int r = 0; r < gpus.size(); r++) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (i % 13) + r;
                }
                bufs.add(bridge.allocate(gpus.get(r), DType.F32, n).copyFrom(x));
            }
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (int r = 0; r < gpus.size(); r++) {
                calls.add(ranks.get(r).allReduceAsync(bufs.get(r), bufs.get(r), n, ReduceOp.SUM, Duration.ofSeconds(60)));
            }
            calls.forEach(CompletableFuture::join);
            int p = gpus.size();
            for (DeviceBuffer b : bufs) {
                float[] got = new float[n];
                b.copyTo(got);
                for (int i = 0; i < n; i++) {
                    float want = p * (i % 13) + p * (p - 1) / 2f;
                    assertEquals(want, got[i], "element " + i);
                }
            }
        }
    }
}
