package dev.kernelbridge.bench;

/**
 * One measured figure and its peer from the same run. {@code ours} and {@code peer} carry JMH's
 * error (half-width of the 99.9 % interval); a missing peer is NaN. The gated quantity is the
 * ratio ours/peer, never an absolute time.
 */
public record Figure(String name, double ours, double oursError, double peer, double peerError, String peerName, String unit) {
    public boolean peerAvailable() {
        return !Double.isNaN(peer) && peer > 0;
    }

    public double ratio() {
        return peerAvailable() ? ours / peer : Double.NaN;
    }

    /** Error of the ratio by first-order propagation of the two relative errors. */
    public double ratioError() {
        if (!peerAvailable() || ours <= 0) {
            return Double.NaN;
        }
        double ro = oursError / ours, rp = peerError / peer;
        return ratio() * Math.sqrt(ro * ro + rp * rp);
    }
}
