package dev.kernelbridge.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The MoE layer computed densely on the host in F64 — token by token, with no collectives and no
 * device — from the same synthetic inputs, and the check of a layer's output against it.
 *
 * <p>The routing is computed here from its own F64 logits; they equal the devices' exactly (see
 * {@link MoeLayer#tokens}), so both choose the same experts. The output may then differ by rounding
 * only, and the check allows, per element y_tj (token t, hidden index j, over its k slots s with expert
 * e_s and weight w_s), this bound, first order in the unit roundoffs u (the stored type's) and u_c
 * (the type GEMMs accumulate in):
 * <ul>
 *   <li>up-projection: the GEMM bound the conformance kit asserts, 2(H+2)·u_c·Σ_h|x_h||W1_hf|, and one
 *       rounding of the stored h_f, u·|h_f| ≤ u·Σ_h|x_h||W1_hf|. As Σ_h|x_h||W1_hf| ≤ ‖x‖∞·‖W1[:,f]‖₁:
 *       |ĥ_f − h_f| ≤ δ_f = c_H·‖x‖∞·‖W1[:,f]‖₁ with c_H = 2(H+2)·u_c + u;</li>
 *   <li>SiLU: its slope lies in [−0.1, 1.1], so the carried error grows at most 1.1-fold, and storing
 *       the result rounds once: |â_f − a_f| ≤ ε_f = 1.1·δ_f + u·|a_f|;</li>
 *   <li>down-projection: the carried error Σ_f|W2_fj|·ε_f plus the GEMM's own c_F·Σ_f|a_f||W2_fj|
 *       (c_F = 2(F+2)·u_c + u), together ≤ ‖W2[:,j]‖₁·(max_f ε_f + c_F·max_f|a_f|);</li>
 *   <li>weighted sum in F64, stored once: Σ_s w_s·(the slot's error) + k·2⁻⁵³·Σ_s w_s|o_sj| + u·|y_tj|.</li>
 * </ul>
 * Products of two roundoffs are left out; each is below u ≤ 2⁻⁸ times a term kept, so the check allows
 * twice the first-order sum. The norms loosen the bound (by the ratio of the largest |x| and |a| to
 * their typical size, a few times here), they never tighten it. With BF16, u = 2⁻⁸ carried through two
 * GEMMs of random signs puts the bound near |y| itself: a BF16 run checks the plumbing less sharply
 * than F32 or F64, where a row sent to the wrong expert or token lies far outside the bound.
 */
final class MoeReference {
    /** The bound on SiLU's slope, |silu'(v)| ≤ 1.0998…. */
    static final double SILU_SLOPE = 1.1;
    /** Slots computed together: each weight row is read once per block. */
    private static final int BLOCK = 8;

    /** The worst |ŷ − y| / bound over a rank's tokens: within the bound when ≤ 1 (NaN anywhere gives +∞). */
    record Check(double worstErrorOverBound) {
        boolean passed() { return worstErrorOverBound <= 1; }
    }

    private MoeReference() { }

    /** Checks {@code y}, the layer's output for tokens [first, first + count), row-major count × hidden. */
    static Check check(MoeLayer.Shape s, long first, int count, double[] y) {
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
        double u = s.dtype().unitRoundoff(), uc = s.dtype().computeType().unitRoundoff();
        double cH = 2 * (h + 2) * uc + u, cF = 2 * (f + 2) * uc + u;
        double[] o = new double[count * k * h];      // each slot's expert output
        double[] slotBound = new double[count * k];  // max_f ε_f + c_F·max_f|a_f| of each slot
        double[][] downNorms = new double[experts][]; // ‖W2_e[:,j]‖₁
        IntStream.range(0, experts).parallel().forEach(e -> {
            List<Integer> slots = new ArrayList<>();
            for (int slot = 0; slot < count * k; slot++) {
                if (routing.expert()[slot] == e) {
                    slots.add(slot);
                }
            }
            double[] w1 = MoeLayer.upWeights(s, e), w2 = MoeLayer.downWeights(s, e);
            double[] upNorm = columnNorms(w1, h, f);
            downNorms[e] = columnNorms(w2, f, h);
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
                    double xMax = 0, aMax = 0, epsMax = 0;
                    for (int i = 0; i < h; i++) {
                        xMax = Math.max(xMax, Math.abs(x[slot / k * h + i]));
                    }
                    for (int c = 0; c < f; c++) {
                        double av = MoeLayer.silu(a[b][c]);
                        a[b][c] = av;
                        aMax = Math.max(aMax, Math.abs(av));
                        epsMax = Math.max(epsMax, SILU_SLOPE * cH * xMax * upNorm[c] + u * Math.abs(av));
                    }
                    slotBound[slot] = epsMax + cF * aMax;
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
                double expect = 0, carried = 0, magnitude = 0;
                for (int sl = 0; sl < k; sl++) {
                    int slot = t * k + sl;
                    double w = routing.weight()[slot];
                    expect += w * o[slot * h + j];
                    carried += w * downNorms[routing.expert()[slot]][j] * slotBound[slot];
                    magnitude += w * Math.abs(o[slot * h + j]);
                }
                double bound = 2 * (carried + k * 0x1p-53 * magnitude + u * Math.abs(expect));
                double error = Math.abs(y[t * h + j] - expect);
                double ratio = error == 0 ? 0 : error / bound; // a NaN output is never within a bound
                worst = Math.max(worst, Double.isNaN(ratio) ? Double.POSITIVE_INFINITY : ratio);
            }
        }
        return new Check(worst);
    }

    /** ‖column c‖₁ of a rows × cols row-major matrix. */
    private static double[] columnNorms(double[] m, int rows, int cols) {
        double[] n = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                n[c] += Math.abs(m[r * cols + c]);
            }
        }
        return n;
    }
}
