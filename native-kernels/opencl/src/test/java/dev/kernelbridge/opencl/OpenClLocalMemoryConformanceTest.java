package dev.kernelbridge.opencl;

import dev.kernelbridge.Config;
import dev.kernelbridge.Device;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.TuningDatabase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The whole kit again with the other GEMM tile path: work-groups of 8 that stage the shared A
 * panel in local memory, 7 rows at a time (so stages end mid-panel), chosen through a user
 * tuning file exactly as `kernelbridge tune` would write it. RELIABILITY R03 asks for every
 * kernel variant; the register-only path is covered by {@link OpenClConformanceTest}.
 */
class OpenClLocalMemoryConformanceTest extends ConformanceKit {
    private static final GemmParameters LOCAL_MEMORY = new GemmParameters(4, 2, 3, 2, 8, 1, 7);
    private static Path cache;

    @Override
    protected BackendProvider provider() { return new OpenClBackendProvider(); }

    @Override
    protected String reportName() { return "opencl-local-memory"; }

    @Override
    public Config config() {
        return super.config().with(Config.CACHE_DIR, cacheWithLocalMemoryTuning().toString());
    }

    @Override
    public List<String> rankDevices() {
        return bridge().devices().stream().filter(d -> d.backend().equals("opencl")).map(Device::id).toList();
    }

    private static synchronized Path cacheWithLocalMemoryTuning() {
        if (cache == null) {
            try {
                cache = Files.createTempDirectory("kernelbridge-lm");
                Path file = cache.resolve("tuning").resolve("opencl.json");
                if (new OpenClBackendProvider().probe().available()) {
                    try (OpenClBackend backend = new OpenClBackend(Config.defaults().with(Config.CACHE_DIR, cache.toString()))) {
                        for (OpenClDevice d : backend.openClDevices()) {
                            var id = d.identity();
                            for (String dtype : List.of("F32", "F64")) {
                                TuningDatabase.record(file, new TuningDatabase.Entry("gemm", dtype, id.vendor(), id.device(), id.driver(),
                                        LOCAL_MEMORY.asDefines(), null));
                            }
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return cache;
    }
}
