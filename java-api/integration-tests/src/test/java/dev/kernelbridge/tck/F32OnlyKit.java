package dev.kernelbridge.tck;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.cpu.CpuBackendProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;

/**
 * The kit against a backend that declares F32 only: the real CPU backend, decorated to declare
 * less. Run by {@link ConformanceReportTest} (not by surefire directly) to check that undeclared
 * capabilities are skipped and listed, never failed or passed.
 */
public class F32OnlyKit extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new F32Only(); }

    /** Same kernels as the CPU backend; declares only F32. */
    static final class F32Only implements BackendProvider {
        private final CpuBackendProvider inner = new CpuBackendProvider();

        @Override
        public String name() { return "cpuf32"; }

        @Override
        public int priority() { return -1; }

        @Override
        public Availability probe() { return inner.probe(); }

        @Override
        public Backend open(Config config) {
            Backend b = inner.open(config);
            BackendDevice d = b.devices().getFirst();
            BackendDevice declared = new BackendDevice() {
                @Override
                public DeviceInfo info() {
                    DeviceInfo i = d.info();
                    return new DeviceInfo(i.name(), i.vendor(), i.kind(), i.memoryBytes(), i.maxAllocationBytes(), Set.of(DType.F32));
                }

                @Override
                public BackendBuffer allocate(DType dtype, long elements) {
                    try {
                        return d.allocate(dtype, elements);
                    } catch (DeviceOutOfMemoryException e) {
                        // A decorator reports faults under its own device id, as any backend must.
                        throw new DeviceOutOfMemoryException("cpuf32:0", e.nativeCode(), e.nativeName(), e.getMessage());
                    }
                }

                @Override
                public boolean sharesHostMemory() { return d.sharesHostMemory(); }

                @Override
                public BackendBuffer wrapHost(MemorySegment hostMemory) { return d.wrapHost(hostMemory); }

                @Override
                public void gemm(GemmCall call) { d.gemm(call); }
            };
            return new Backend() {
                @Override
                public List<BackendDevice> devices() { return List.of(declared); }

                @Override
                public void close() { b.close(); }
            };
        }
    }
}
