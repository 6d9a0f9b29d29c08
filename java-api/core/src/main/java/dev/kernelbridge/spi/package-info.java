/**
 * The backend SPI, version {@value dev.kernelbridge.spi.BackendProvider#SPI_VERSION}: what a device
 * runtime implements to join KernelBridge. The built-in CPU backend uses exactly this SPI.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Discovery: a {@link dev.kernelbridge.spi.BackendProvider} found by {@link java.util.ServiceLoader}
 *       ({@code META-INF/services} line and {@code provides} in {@code module-info}).</li>
 *   <li>Availability never throws: {@link dev.kernelbridge.spi.BackendProvider#probe()} returns a cause.</li>
 *   <li>Arguments arrive checked: the API validates shapes, bounds, types, lifetimes and aliasing before any
 *       SPI call, and normalises GEMM to column-major. Backends do not re-validate.</li>
 *   <li>Threads: every method of {@link dev.kernelbridge.spi.Backend}, {@link dev.kernelbridge.spi.BackendDevice}
 *       and {@link dev.kernelbridge.spi.BackendBuffer} may be called from many threads at once.</li>
 *   <li>Lifetime: the API never calls a buffer after {@link dev.kernelbridge.spi.BackendBuffer#release()} nor a
 *       backend after {@link dev.kernelbridge.spi.Backend#close()}; it waits for operations in flight first.</li>
 *   <li>Faults: a device failure is a {@link dev.kernelbridge.DeviceException} with the native code; the output
 *       of a failed call is unspecified and the API decides what the caller sees.</li>
 * </ul>
 */
package dev.kernelbridge.spi;
