package dev.kernelbridge.examples.moe;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The MoE layer computed densely on the host in F64 — token by token, with no collectives and no
 * device — from the same synthetic inputs, and the check of a layer's output against it.
 *
 * <p>The routing is computed here from its own F64 logits; they equal the devices' exactly (see
 * {@link MoeLayer#tokens}), so both choose the same experts, and the outputs may differ by rounding
 * only. How much? The worst-case bound (each dot product of n terms off by up to 2n·u·Σ|a||b|, every
 * carried error adding up with the same sign) is of the order of |y| itself at these sizes, for F32
 * too: it would pass a token given another token's row. So the check uses the probabilistic model of
 * rounding-error analysis (Higham and Mary, SIAM J. Sci. Comput. 41(5), 2019): rounding errors are
 * independent, of mean zero and at most u relative; then an n-term dot product is off by at most
 * λ·√n·u·Σ|a||b| with probability at least 1 − 2n·exp(−λ²/2), and a sum Σ c_f·e_f of independent
 * errors |e_f| ≤ ε_f by at most λ·(Σ c_f²·ε_f²)^½ with probability at least 1 − 2·exp(−λ²/2)
 * (Hoeffding). λ = {@value #LAMBDA}: exp(−50) ≈ 2·10⁻²²; the default shape computes about 4·10⁷ dot
 * products of at most 3584 terms, so the model puts the chance that a correct layer fails the check
 * below 10⁻¹⁰ (union bounds; tests and runs show errors far inside the bound: F32 about 10⁻⁴ of it,
 * BF16 under 0.1, where the stored roundings dominate). With u the stored type's unit roundoff and u_c the
 * type GEMMs accumulate in (each plus F64's own, as this reference rounds too), per token t, expert
 * slot s (expert e, weight w_s) and hidden index j:
 * <ul>
 *   <li>up-projection, then stored: |ĥ_f − h_f| ≤ δ_f = λ·√H·u_c·‖x‖₂·‖W1[:,f]‖₂ + u·|h_f|
 *       (Σ|x_h||W1_hf| ≤ ‖x‖₂·‖W1[:,f]‖₂, Cauchy–Schwarz);</li>
 *   <li>SiLU, whose slope lies in [−0.1, 1.1], then stored: |â_f − a_f| ≤ ε_f = 1.1·δ_f + u·|a_f|;</li>
 *   <li>down-projection: the carried errors Σ_f W2_fj·e_f ≤ λ·max_f|W2_fj|·‖ε‖₂, the product's own
 *       λ·√F·u_c·‖a‖₂·‖W2[:,j]‖₂, and the stored rounding u·|o_j|;</li>
 *   <li>the weighted sum in F64, stored: Σ_s w_s·(slot error) + k·2⁻⁵³·Σ_s w_s·|o_sj| + u·|y_tj|.</li>
 * </ul>
 * These are first order in u; the products of two error terms left out are below 2⁻⁷ of the terms
 * kept (u ≤ 2⁻⁸), so the check allows 1.25 times the sum. A row of the wrong token or expert is off
 * by about |y|, several times this bound in every type (MoeLayerTest checks it is caught).
 */
public final class MoeReference {
    /** The bound on SiLU's slope, |silu'(v)| ≤ 1.0998…. */
    static final double SILU_SLOPE = 1.1;
    /** How many standard deviations of the rounding errors the bound allows (see the class comment). */
    static final double LAMBDA = 10;
    /** Slots computed together: each weight row is read once per block. */
    private static final int BLOCK = 8;

    /** The worst |ŷ − y| / bound over a rank's tokens: within the bound when ≤ 1 (NaN anywhere gives +∞). */
    public record Check(double worstErrorOverBound) {
        public boolean passed() { return worstErrorOverBound <= 1; }
    }

    private MoeReference() { }

    /** Checks {@code y}, the layer's output for tokens [first, first + count), row-major count × hidden. */
    public static Check check(MoeLayer.Shape s, long first, int count, double[] y) {
        int h = s.hidden(), f = s.ffn(), k = s.topK(), experts = s.experts();
        double[] x = MoeLayer.tokens(s, first, count);
        double[] router = MoeLayer.routerWeights(s);
        double[] logits = new double[count * experts];
        for (int t = 0; t < count; t++) {
            for (int i = 0; i < h; i++) {
                double xv = x[t * h + i];
                for (int e = 0; e < experts; e++) {
                    logits[t * experts + e] += xv * router[i * experts + e];
                }
            }
        }
        MoeLayer.Routing routing = MoeLayer.Routing.of(logits, count, experts, k);
        // Each roundoff plus this reference's own (F64; SiLU's exp within one ulp).
        double u = s.dtype().unitRoundoff() + 0x1p-52, uc = s.dtype().computeType().unitRoundoff() + 0x1p-53;
        double[] o = new double[count * k * h];      // each slot's expert output
        double[] carried = new double[count * k];    // λ·‖ε‖₂ of each slot
        double[] own = new double[count * k];        // λ·√F·u_c·‖a‖₂ of each slot
        double[][] downMax = new double[experts][], downNorm = new double[experts][]; // max_f|W2_fj|, ‖W2[:,j]‖₂
        IntStream.range(0, experts).parallel().forEach(e -> {
            List<Integer> slots = new ArrayList<>();
            for (int slot = 0; slot < count * k; slot++) {
                if (routing.expert()[slot] == e) {
                    slots.add(slot);
                }
            }
            double[] w1 = MoeLayer.upWeights(s, e), w2 = MoeLayer.downWeights(s, e);
            double[] upNorm = new double[f];
            columns(w1, h, f, upNorm, null);
            downNorm[e] = new double[h];
            downMax[e] = new double[h];
            columns(w2, f, h, downNorm[e], downMax[e]);
            for (int from = 0; from < slots.size(); from += BLOCK) {
                List<Integer> block = slots.subList(from, Math.min(slots.size(), from + BLOCK));
                double[][] a = new double[block.size()][f];
                for (int i = 0; i < h; i++) {
                    for (int b = 0; b < block.size(); b++) {
                        double xv = x[block.get(b) / k * h + i];
                        double[] acc = a[b];
                        for (int c = 0; c < f; c++) {
                            acc[c] += xv * w1[i * f + c];
                        }
                    }
                }
                for (int b = 0; b < block.size(); b++) {
                    int slot = block.get(b);
                    double xNorm = 0, aNorm = 0, epsNorm = 0;
                    for (int i = 0; i < h; i++) {
                        xNorm += x[slot / k * h + i] * x[slot / k * h + i];
                    }
                    xNorm = Math.sqrt(xNorm);
                    for (int c = 0; c < f; c++) {
                        double hv = a[b][c], av = MoeLayer.silu(hv);
                        double delta = LAMBDA * Math.sqrt(h) * uc * xNorm * upNorm[c] + u * Math.abs(hv);
                        double eps = SILU_SLOPE * delta + u * Math.abs(av);
                        a[b][c] = av;
                        aNorm += av * av;
                        epsNorm += eps * eps;
                    }
                    carried[slot] = LAMBDA * Math.sqrt(epsNorm);
                    own[slot] = LAMBDA * Math.sqrt(f) * uc * Math.sqrt(aNorm);
                }
                for (int c = 0; c < f; c++) {
                    for (int b = 0; b < block.size(); b++) {
                        double av = a[b][c];
                        int row = block.get(b) * h;
                        for (int j = 0; j < h; j++) {
                            o[row + j] += av * w2[c * h + j];
                        }
                    }
                }
            }
        });
        double worst = 0;
        for (int t = 0; t < count; t++) {
            for (int j = 0; j < h; j++) {
                double expect = 0, slotErrors = 0, magnitude = 0;
                for (int sl = 0; sl < k; sl++) {
                    int slot = t * k + sl, e = routing.expert()[slot];
                    double w = routing.weight()[slot], ov = o[slot * h + j];
                    expect += w * ov;
                    slotErrors += w * (carried[slot] * downMax[e][j] + own[slot] * downNorm[e][j] + u * Math.abs(ov));
                    magnitude += w * Math.abs(ov);
                }
                double bound = 1.25 * (slotErrors + k * 0x1p-53 * magnitude + u * Math.abs(expect));
                double error = Math.abs(y[t * h + j] - expect);
                double ratio = error == 0 ? 0 : error / bound; // a NaN output is never within a bound
                worst = Math.max(worst, Double.isNaN(ratio) ? Double.POSITIVE_INFINITY : ratio);
            }
        }
        return new Check(worst);
    }

    /** Each column's 2-norm, and its largest magnitude where {@code max} is given, of a rows × cols row-major matrix. */
    private static void columns(double[] m, int rows, int cols, double[] norm, double[] max) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = m[r * cols + c];
                norm[c] += v * v;
                if (max != null) {
                    max[c] = Math.max(max[c], Math.abs(v));
                }
            }
        }
        for (int c = 0; c < cols; c++) {
            norm[c] = Math.sqrt(norm[c]);
        }
    }
}
