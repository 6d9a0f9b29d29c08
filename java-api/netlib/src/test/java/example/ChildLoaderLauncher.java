package example;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;

/**
 * A host that loads its application in a child class loader, as a launcher's {@code -cp}, an
 * application server or {@code spark-submit --jars} does: its arguments are the child's class path,
 * then the main class to run there. Run in a child JVM by NetlibAgentTest, alone on the system class path.
 */
public final class ChildLoaderLauncher {
    private ChildLoaderLauncher() { }

    public static void main(String[] args) throws Exception {
        String[] entries = args[0].split(java.io.File.pathSeparator);
        URL[] urls = new URL[entries.length];
        for (int i = 0; i < entries.length; i++) {
            urls[i] = Path.of(entries[i]).toUri().toURL();
        }
        try (URLClassLoader child = new URLClassLoader("application", urls, ClassLoader.getSystemClassLoader())) {
            Thread.currentThread().setContextClassLoader(child);
            child.loadClass(args[1]).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        }
    }
}
