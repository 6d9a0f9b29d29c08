package dev.kernelbridge.netlib;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.lang.classfile.MethodModel;
import java.lang.classfile.MethodTransform;
import java.lang.constant.ClassDesc;
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
 */
public final class NetlibAgent {
    private static final System.Logger LOG = System.getLogger(NetlibAgent.class.getName());
    private static final ClassDesc LUDOVIC_BLAS = ClassDesc.of("dev.kernelbridge.netlib.LudovicBLAS");
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
        CodeTransform body = (code, element) -> { };                 // drop the library's body...
        body = body.andThen(CodeTransform.endHandler(code -> code     // ...and return ours
                .invokestatic(LUDOVIC_BLAS, "getInstance", MethodTypeDesc.of(LUDOVIC_BLAS))
                .areturn()));
        return cf.transformClass(model, ClassTransform.transformingMethods(m -> isFactory(m, factory), MethodTransform.transformingCode(body)));
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
