package dev.kernelbridge.netlib;

import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the factories rewritten by {@link NetlibAgent} call first: KernelBridge's adapter as seen from
 * the class loader that loaded dev.ludovic.netlib, or {@code null}, and then the factory runs the
 * library's own body. Looking the adapter up through netlib's loader (not the agent's) is what lets
 * the seam work where netlib lives in a child loader (a launcher's {@code -cp}, an application
 * server, {@code spark-submit --jars}); stepping aside when it is not reachable there is what keeps
 * the agent from ever breaking a working program.
 *
 * <p>This class is part of the agent jar and touches nothing but {@code java.base}, so it resolves
 * from whichever loader netlib has. Thread-safe; one lookup per factory class, remembered.
 */
public final class NetlibAdapters {
    private static final System.Logger LOG = System.getLogger(NetlibAdapters.class.getName());
    static final String ADAPTER = "dev.kernelbridge.netlib.LudovicBLAS";
    private static final String PROVIDER_SPI = "dev.kernelbridge.spi.BackendProvider";
    private static final Object NONE = new Object();
    private static final AtomicBoolean WARNED = new AtomicBoolean();
    private static final ClassValue<Object> ADAPTERS = new ClassValue<>() {
        @Override
        protected Object computeValue(Class<?> factory) {
            return find(factory);
        }
    };

    private NetlibAdapters() { }

    /** KernelBridge's instance of {@code factory}'s type, or {@code null}: then the caller keeps the library's own. */
    public static Object forFactory(Class<?> factory) {
        Object adapter = ADAPTERS.get(factory);
        return adapter == NONE ? null : adapter;
    }

    private static Object find(Class<?> factory) {
        ClassLoader loader = factory.getClassLoader();
        try {
            Class<?> adapter = Class.forName(ADAPTER, true, loader);
            if (!factory.isAssignableFrom(adapter)) {
                throw new LinkageError(ADAPTER + " resolves to a copy in " + adapter.getClassLoader()
                        + ", which sees another " + factory.getName() + " than " + loader);
            }
            ClassLoader kernelBridge = adapter.getClassLoader();
            Class<?> provider = Class.forName(PROVIDER_SPI, false, kernelBridge);   // kernelbridge-api is reachable too,
            if (ServiceLoader.load(provider, kernelBridge).findFirst().isEmpty()) {  // and a backend with it
                throw new LinkageError("no KernelBridge backend beside it (kernelbridge-cpu is the one always there)");
            }
            Object instance = adapter.getMethod("getInstance").invoke(null);
            LOG.log(System.Logger.Level.DEBUG, () -> "netlib agent: " + factory.getName() + ".getInstance() returns KernelBridge's " + ADAPTER);
            return instance;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            if (WARNED.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "netlib agent: KernelBridge is not installed for dev.ludovic.netlib loaded by " + loader
                        + " (" + cause(e) + "); its BLAS factories keep the library's own implementations. To install it: start the JVM with"
                        + " -javaagent: pointing at kernelbridge-netlib's agent jar (kernelbridge-netlib-<version>-agent.jar, the transformer alone)"
                        + " and put kernelbridge-netlib.jar, kernelbridge-api.jar and kernelbridge-cpu.jar in the same class loader as dev.ludovic.netlib"
                        + " (on the class path with it; under spark-submit, where netlib is in $SPARK_HOME/jars, through --driver-class-path"
                        + " and spark.executor.extraClassPath, not --jars)");
            }
            return NONE;
        }
    }

    private static String cause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }
}
