package dev.kernelbridge.netlib;

import java.lang.classfile.AccessFlags;
import java.lang.classfile.ClassFile;
import java.lang.classfile.MethodModel;
import java.lang.classfile.Opcode;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.AccessFlag;
import java.security.ProtectionDomain;
import java.util.Map;

/**
 * {@code -javaagent:kernelbridge-netlib.jar}: makes dev.ludovic.netlib's two public factories,
 * {@code BLAS.getInstance()} and {@code NativeBLAS.getInstance()}, return {@link LudovicBLAS} — the
 * seam Spark MLlib (level 3 goes through {@code NativeBLAS.getInstance()}) and Breeze use.
 * dev.ludovic.netlib picks its implementation in a package-private class with final fields and offers
 * no plug-in point, so rewriting those two public methods as their classes load is the least
 * fragile way in: it depends only on the library's public API (stable since 2.0), works on the
 * class path and the module path, and leaves {@code JavaBLAS.getInstance()} — which LudovicBLAS
 * delegates to — untouched.
 *
 * <p>The rewrite is done with the JDK's {@code java.lang.classfile} API, once per class, at load time;
 * a class that does not have the expected method is left as it is, with one warning. The agent
 * does nothing else: no other class is touched and nothing is retransformed.
 *
 * <p>The library's own body is kept in the class, and the rewritten factory returns KernelBridge's
 * adapter only where {@link NetlibAdapters} finds it through the class loader that loaded netlib;
 * otherwise it runs that body, so the agent never makes a working program fail. The JVM puts an
 * agent's jar on the system class path, so where netlib is loaded by a child class loader, the agent
 * should be {@code kernelbridge-netlib-<version>-agent.jar} (this class and {@link NetlibAdapters}
 * alone) and kernelbridge-netlib's main jar should sit beside netlib: a full jar on the system class
 * path would win the parent-first lookup there, where netlib's interfaces cannot be seen.
 */
public final class NetlibAgent {
    private static final System.Logger LOG = System.getLogger(NetlibAgent.class.getName());
    private static final ClassDesc ADAPTERS = ClassDesc.of(NetlibAdapters.class.getName());
    /** Where the library's own factory body is kept. */
    static final String STOCK = "kernelbridge$stockGetInstance";
    /** Internal class name → the descriptor its {@code getInstance()} returns. */
    private static final Map<String, ClassDesc> FACTORIES = Map.of(
            "dev/ludovic/netlib/blas/BLAS", ClassDesc.of("dev.ludovic.netlib.blas.BLAS"),
            "dev/ludovic/netlib/blas/NativeBLAS", ClassDesc.of("dev.ludovic.netlib.blas.NativeBLAS"));

    private NetlibAgent() { }

    public static void premain(String args, Instrumentation instrumentation) {
        instrumentation.addTransformer(new Factories());
        LOG.log(System.Logger.Level.DEBUG, "netlib agent: dev.ludovic.netlib BLAS.getInstance() and NativeBLAS.getInstance() will return LudovicBLAS");
    }

    /** The rewrite itself, public so that tests can apply it to a class file without an agent. */
    static byte[] rewrite(String internalName, byte[] classFile) {
        ClassDesc returns = FACTORIES.get(internalName);
        if (returns == null) {
            return null;
        }
        MethodTypeDesc factory = MethodTypeDesc.of(returns);
        ClassFile cf = ClassFile.of();
        var model = cf.parse(classFile);
        boolean found = model.methods().stream().anyMatch(m -> isFactory(m, factory));
        if (!found) {
            LOG.log(System.Logger.Level.WARNING, "netlib agent: " + internalName.replace('/', '.')
                    + " has no static getInstance() returning " + returns.displayName() + "; left unchanged (KernelBridge not installed there)");
            return null;
        }
        ClassDesc owner = ClassDesc.ofInternalName(internalName);
        boolean isInterface = model.flags().has(AccessFlag.INTERFACE);
        // The library's body moves, untouched, to a private method; getInstance() asks NetlibAdapters
        // first and calls that body when KernelBridge is not reachable from netlib's class loader.
        return cf.transformClass(model, (clb, element) -> {
            if (element instanceof MethodModel m && isFactory(m, factory)) {
                clb.withMethod(STOCK, factory, ClassFile.ACC_PRIVATE | ClassFile.ACC_STATIC | ClassFile.ACC_SYNTHETIC,
                        mb -> m.forEach(e -> {
                            if (!(e instanceof AccessFlags)) {
                                mb.with(e);
                            }
                        }));
                clb.withMethodBody(m.methodName().stringValue(), factory, m.flags().flagsMask(), code -> code
                        .ldc(owner)
                        .invokestatic(ADAPTERS, "forFactory", MethodTypeDesc.of(ConstantDescs.CD_Object, ConstantDescs.CD_Class))
                        .dup()
                        .ifThen(Opcode.IFNONNULL, ours -> ours.checkcast(returns).areturn())
                        .pop()
                        .invokestatic(owner, STOCK, factory, isInterface)
                        .areturn());
            } else {
                clb.with(element);
            }
        });
    }

    private static boolean isFactory(MethodModel m, MethodTypeDesc factory) {
        return m.methodName().equalsString("getInstance") && m.flags().has(AccessFlag.STATIC)
                && m.methodTypeSymbol().equals(factory);
    }

    private static final class Factories implements ClassFileTransformer {
        @Override
        public byte[] transform(Module module, ClassLoader loader, String className, Class<?> redefined,
                                ProtectionDomain domain, byte[] classFile) {
            if (className == null || !FACTORIES.containsKey(className)) {
                return null;
            }
            try {
                byte[] out = rewrite(className, classFile);
                if (out != null) {
                    LOG.log(System.Logger.Level.DEBUG, () -> "netlib agent: rewrote " + className.replace('/', '.') + ".getInstance()");
                }
                return out;
            } catch (RuntimeException | LinkageError e) {
                // A transformer's exception is swallowed by the JVM; say why the class is stock.
                LOG.log(System.Logger.Level.WARNING, "netlib agent: could not rewrite " + className.replace('/', '.') + "; left unchanged", e);
                return null;
            }
        }
    }
}
