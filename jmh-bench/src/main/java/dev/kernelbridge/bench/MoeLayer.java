package dev.kernelbridge.bench;

import java.util.SplittableRandom;

/**
 * The mixture-of-experts layer the issue-15 targets are stated on, and a deterministic router for
 * it. Every token picks {@code topK} distinct experts, expert e with weight 1/(e+1) (a Zipf skew:
 * real routers are uneven, and an even split would flatter the grouped GEMM), so the groups are
 * ragged the same way in every run and on every machine.
 *
 * @param tokens tokens in the batch
 * @param hidden model width: A is Σm×hidden, each expert's up-projection hidden×ffn
 * @param ffn width of an expert's feed-forward layer
 * @param experts number of experts (groups of the grouped GEMM)
 * @param topK experts per token: Σm = tokens·topK routed rows
 * @param seed the router's seed
 */
record MoeLayer(int tokens, int hidden, int ffn, int experts, int topK, long seed) {
    /** Mixtral 8×7B's routing (8 experts, top-2) at widths a two-core machine runs in about a second. */
    static final MoeLayer MIXTRAL_SCALED = new MoeLayer(4096, 1024, 3584, 8, 2, 15);

    MoeLayer withTokens(int tokens) {
        return new MoeLayer(tokens, hidden, ffn, experts, topK, seed);
    }

    /** Routed rows: Σm = tokens·topK. */
    long rows() {
        return (long) tokens * topK;
    }

    /** The experts of every token: token t's choices are at [t·topK, (t+1)·topK). */
    int[] route() {
        double[] weight = new double[experts];
        for (int e = 0; e < experts; e++) {
            weight[e] = 1.0 / (e + 1);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] choice = new int[tokens * topK];
        for (int t = 0; t < tokens; t++) {
            boolean[] taken = new boolean[experts];
            for (int c = 0; c < topK; c++) {
                double left = 0;
                for (int e = 0; e < experts; e++) {
                    left += taken[e] ? 0 : weight[e];
                }
                double x = rnd.nextDouble() * left;
                int pick = -1;
                for (int e = 0; e < experts; e++) {
                    if (!taken[e]) {
                        pick = e;
                        x -= weight[e];
                        if (x < 0) {
                            break;
                        }
                    }
                }
                taken[pick] = true;
                choice[t * topK + c] = pick;
            }
        }
        return choice;
    }

    /** The grouped GEMM's group boundaries: expert e's rows are [offsets[e], offsets[e+1]). */
    long[] offsets() {
        long[] offsets = new long[experts + 1];
        for (int e : route()) {
            offsets[e + 1]++;
        }
        for (int e = 0; e < experts; e++) {
            offsets[e + 1] += offsets[e];
        }
        return offsets;
    }

    /**
     * Rows rank r sends to rank p when the tokens are split evenly over {@code ranks} ranks (token t
     * on rank t·ranks/tokens) and the experts too (expert e on rank e·ranks/experts): the dispatch
     * all-to-all of the layer, in rows of {@code hidden} elements.
     */
    long[][] rowsBetweenRanks(int ranks) {
        int[] choice = route();
        long[][] rows = new long[ranks][ranks];
        for (int i = 0; i < choice.length; i++) {
            int token = i / topK;
            rows[(int) ((long) token * ranks / tokens)][choice[i] * ranks / experts]++;
        }
        return rows;
    }

    /** The up-projection's work: 2·Σm·hidden·ffn. */
    double upProjectionFlops() {
        return 2.0 * rows() * hidden * ffn;
    }
}
