package dev.kernelbridge.examples.moe;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A mixture-of-experts layer on KernelBridge — one rank's share of it; {@code kernelbridge moe} runs
 * it. Of P ranks, each holds a contiguous share of the tokens and of the experts (the first ranks
 * one more where P does not divide). One {@link #forward()}:
 * <ol>
 *   <li><b>router</b>: logits = X·W_r, a GEMM of tokens × experts; then {@link Routing}: softmax,
 *       top-k, the k weights renormalised;</li>
 *   <li><b>counts</b>: every rank's tokens per expert ({@link Communicator#exchangeCounts}), from which
 *       each rank knows what it sends to and receives from every peer;</li>
 *   <li><b>dispatch</b>: each token's row, once per chosen expert, ordered by expert, to the rank that
 *       owns the expert (all-to-all-v);</li>
 *   <li><b>experts</b>: grouped up-projection (hidden → ffn), SiLU, grouped down-projection
 *       (ffn → hidden) — a plain SiLU MLP; Mixtral's SwiGLU adds a third, gating matrix;</li>
 *   <li><b>combine</b>: the rows back to their tokens' ranks (the dispatch reversed) and each token's
 *       k rows summed with its router weights.</li>
 * </ol>
 * Every tensor is stored in the layer's type (F32, F64, BF16 or F16); the GEMMs accumulate in its
 * compute type. Top-k, the row gather, SiLU and the weighted sum run in Java on the host: KernelBridge
 * offers GEMM and collectives, not element-wise kernels. The inputs are synthetic, made from the seed
 * by element index (see {@link #tokens}), so any rank — and {@link MoeReference} — can make any part.
 * Not thread-safe: one thread per rank, as collectives block until every rank has called.
 */
public final class MoeLayer implements AutoCloseable {
    /** The layer's sizes, element type and seed; the same on every rank. */
    public record Shape(int experts, int topK, long tokens, int hidden, int ffn, DType dtype, long seed) {
        /** Router and expert GEMMs of one forward pass, a multiply-add counted as two. */
        public double flops() {
            return 2.0 * tokens * hidden * experts + 2 * (2.0 * tokens * topK * hidden * ffn);
        }
    }

    /** What one forward pass gives this rank: its tokens' outputs and every rank's tokens per expert. */
    public record Output(double[] y, long[][] counts) { }

    private final KernelBridge bridge;
    private final Communicator comm;
    private final Shape shape;
    private final int ranks, rank;
    /** This rank's share: tokens [firstToken, firstToken + tokens) and experts [firstExpert, firstExpert + experts). */
    private final long firstToken;
    private final int tokens, firstExpert, experts;
    /** This rank's tokens, the layer's input, on the host (where the dispatch gathers rows from). */
    private final double[] x;
    private final DeviceBuffer xOnDevice, router, logits, up, down, send, back;
    /** Rows received for this rank's experts: their count follows the routing, so they grow on demand. */
    private DeviceBuffer received, hidden, out;
    private static final int SLICE = 1 << 20;
    /** Host staging for copies to and from the device, a slice at a time; shared, as the pool thread that runs a rank may change. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment staging = arena.allocate((long) SLICE * Double.BYTES, 64);

    public MoeLayer(KernelBridge bridge, Communicator comm, Shape shape) {
        this.bridge = bridge;
        this.comm = comm;
        this.shape = shape;
        ranks = comm.size();
        rank = comm.rank();
        firstToken = start(shape.tokens(), ranks, rank);
        tokens = (int) (start(shape.tokens(), ranks, rank + 1) - firstToken);
        firstExpert = (int) start(shape.experts(), ranks, rank);
        experts = (int) start(shape.experts(), ranks, rank + 1) - firstExpert;
        int h = shape.hidden(), f = shape.ffn();
        DType t = shape.dtype();
        List<DeviceBuffer> made = new ArrayList<>();
        try {
            x = tokens(shape, firstToken, tokens);
            xOnDevice = made(made, (long) tokens * h, t);
            upload(xOnDevice, 0, x);
            router = made(made, (long) h * shape.experts(), t);
            upload(router, 0, routerWeights(shape));
            logits = made(made, (long) tokens * shape.experts(), t.computeType());
            up = made(made, (long) experts * h * f, t);
            down = made(made, (long) experts * f * h, t);
            for (int e = 0; e < experts; e++) {
                upload(up, (long) e * h * f, upWeights(shape, firstExpert + e));
                upload(down, (long) e * f * h, downWeights(shape, firstExpert + e));
            }
            send = made(made, (long) tokens * shape.topK() * h, t);
            back = made(made, (long) tokens * shape.topK() * h, t);
        } catch (RuntimeException | Error e) {
            made.forEach(DeviceBuffer::close);
            arena.close();
            throw e;
        }
    }

    /** This rank's tokens: [first, first + count) of the layer's. */
    public long firstToken() { return firstToken; }

    public int tokenCount() { return tokens; }

    /** One forward pass of the whole layer; every rank of the group calls it at the same time. */
    public Output forward() {
        int e = shape.experts(), k = shape.topK(), h = shape.hidden(), f = shape.ffn();
        // 1. Router.
        bridge.gemm(GemmOp.of(Layout.ROW_MAJOR, tokens, e, h, 1, xOnDevice, router, 0, logits));
        Routing routing = Routing.of(download(logits, 0, tokens * e), tokens, e, k);
        // 2. Counts: rows go to the owner of each expert, and come from every rank for this rank's experts.
        long[][] counts = comm.exchangeCounts(routing.tokensPerExpert());
        long[] sendRows = new long[ranks], receiveRows = new long[ranks];
        for (int peer = 0; peer < ranks; peer++) {
            for (int ex = (int) start(e, ranks, peer); ex < start(e, ranks, peer + 1); ex++) {
                sendRows[peer] += counts[rank][ex];
            }
            for (int ex = firstExpert; ex < firstExpert + experts; ex++) {
                receiveRows[peer] += counts[peer][ex];
            }
        }
        long rows = sum(receiveRows);
        ensureRows(rows);
        // 3. Dispatch: the rows in expert order, so that each peer's experts form one block.
        int[] order = routing.dispatchOrder();
        double[] gathered = new double[order.length * h];
        for (int p = 0; p < order.length; p++) {
            System.arraycopy(x, order[p] / k * h, gathered, p * h, h);
        }
        upload(send, 0, gathered);
        comm.allToAllV(send, times(sendRows, h), offsets(sendRows, h), received, times(receiveRows, h), offsets(receiveRows, h));
        // 4. Experts, one grouped GEMM each way.
        bridge.groupedGemm().run(expertGemms(counts, received, up, hidden, h, f));
        silu(hidden, rows * f);
        bridge.groupedGemm().run(expertGemms(counts, hidden, down, out, f, h));
        // 5. Combine: the dispatch reversed, then each token's k rows weighted in slot order.
        comm.allToAllV(out, times(receiveRows, h), offsets(receiveRows, h), back, times(sendRows, h), offsets(sendRows, h));
        double[] expertRows = download(back, 0, order.length * h);
        int[] rowOfSlot = new int[order.length];
        for (int p = 0; p < order.length; p++) {
            rowOfSlot[order[p]] = p;
        }
        double[] y = new double[tokens * h];
        for (int token = 0; token < tokens; token++) {
            for (int s = 0; s < k; s++) {
                int slot = token * k + s, row = rowOfSlot[slot] * h;
                double w = routing.weight()[slot];
                for (int j = 0; j < h; j++) {
                    y[token * h + j] += w * expertRows[row + j];
                }
            }
        }
        for (int i = 0; i < y.length; i++) {
            y[i] = round(shape.dtype(), y[i]);
        }
        return new Output(y, counts);
    }

    /**
     * The grouped GEMM over the received rows: a block per (source rank, expert), in the order they
     * arrived, each with its expert's weights. (The ragged form wants one block per expert; rows arrive
     * grouped by sender first, and the list form takes them as they lie, without a reordering pass.)
     */
    private List<GemmOp> expertGemms(long[][] counts, DeviceBuffer in, DeviceBuffer weights, DeviceBuffer result, int kDim, int nDim) {
        List<GemmOp> ops = new ArrayList<>();
        long row = 0;
        for (int source = 0; source < ranks; source++) {
            for (int ex = 0; ex < experts; ex++) {
                long m = counts[source][firstExpert + ex];
                if (m > 0) {
                    ops.add(GemmOp.builder().layout(Layout.ROW_MAJOR).shape(m, nDim, kDim).a(in, row * kDim, kDim)
                            .b(weights, (long) ex * kDim * nDim, nDim).c(result, row * nDim, nDim).build());
                }
                row += m;
            }
        }
        return ops;
    }

    /** SiLU(v) = v·sigmoid(v), in place, a slice at a time through the host; each result rounded once to the buffer's type. */
    private void silu(DeviceBuffer buf, long count) {
        DType t = buf.dtype();
        for (long at = 0; at < count; at += SLICE) {
            MemorySegment slice = staging.asSlice(0, Math.min(SLICE, count - at) * t.byteSize());
            buf.copyTo(at, slice);
            for (long i = 0; i < slice.byteSize() / t.byteSize(); i++) {
                put(t, slice, i, silu(get(t, slice, i)));
            }
            buf.copyFrom(at, slice);
        }
    }

    static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    private void ensureRows(long rows) {
        if (received == null || received.length() < Math.max(1, rows * shape.hidden())) {
            closeRowBuffers();
            received = bridge.allocate(comm.device(), shape.dtype(), Math.max(1, rows * shape.hidden()));
            hidden = bridge.allocate(comm.device(), shape.dtype(), Math.max(1, rows * shape.ffn()));
            out = bridge.allocate(comm.device(), shape.dtype(), Math.max(1, rows * shape.hidden()));
        }
    }

    private void closeRowBuffers() {
        for (DeviceBuffer b : new DeviceBuffer[] {received, hidden, out}) {
            if (b != null) {
                b.close();
            }
        }
    }

    @Override
    public void close() {
        closeRowBuffers();
        for (DeviceBuffer b : new DeviceBuffer[] {xOnDevice, router, logits, up, down, send, back}) {
            b.close();
        }
        arena.close();
    }

    private DeviceBuffer made(List<DeviceBuffer> made, long length, DType type) {
        DeviceBuffer b = bridge.allocate(comm.device(), type, Math.max(1, length));
        made.add(b);
        return b;
    }

    // ---------------------------------------------------------------------------------------------
    // Routing.

    /**
     * Each token's k experts (slot t·k + s) and their weights. The router is skewed: expert e's logit
     * is lowered by {@value #SKEW}·e/E before the softmax, so low experts get more tokens and the
     * groups are ragged, as with a trained router. Top-k takes the largest logits, equal ones to the
     * lower expert index; the weights are the softmax renormalised over the k chosen (Mixtral's rule;
     * the same as a softmax of the k logits alone).
     */
    record Routing(int topK, int[] expert, double[] weight, long[] tokensPerExpert) {
        static final double SKEW = 2.0;

        static Routing of(double[] logits, int tokens, int experts, int topK) {
            int[] chosen = new int[tokens * topK];
            double[] weight = new double[tokens * topK];
            long[] perExpert = new long[experts];
            double[] z = new double[experts];
            boolean[] taken = new boolean[experts];
            for (int t = 0; t < tokens; t++) {
                java.util.Arrays.fill(taken, false);
                for (int e = 0; e < experts; e++) {
                    z[e] = logits[t * experts + e] - SKEW * e / experts;
                }
                double sum = 0;
                for (int s = 0; s < topK; s++) {
                    int best = -1;
                    for (int e = 0; e < experts; e++) {
                        if (!taken[e] && (best < 0 || z[e] > z[best])) { // strictly greater: a tie keeps the lower index
                            best = e;
                        }
                    }
                    taken[best] = true;
                    chosen[t * topK + s] = best;
                    perExpert[best]++;
                    weight[t * topK + s] = Math.exp(z[best] - z[chosen[t * topK]]);
                    sum += weight[t * topK + s];
                }
                for (int s = 0; s < topK; s++) {
                    weight[t * topK + s] /= sum;
                }
            }
            return new Routing(topK, chosen, weight, perExpert);
        }

        /** The slots in dispatch order: by expert, then token (a counting sort). */
        int[] dispatchOrder() {
            int[] next = new int[tokensPerExpert.length];
            for (int e = 1; e < next.length; e++) {
                next[e] = next[e - 1] + (int) tokensPerExpert[e - 1];
            }
            int[] order = new int[expert.length];
            for (int slot = 0; slot < expert.length; slot++) {
                order[next[expert[slot]]++] = slot;
            }
            return order;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Synthetic inputs, element by element from the seed.

    private static final int TOKENS = 1, ROUTER = 2, UP = 3, DOWN = 4;

    /**
     * Rows [first, first + count) of X (tokens × hidden). X holds multiples of 1/8 in [−1, 1], the router
     * weights multiples of σ/8 in [−σ, σ] for a power of two σ: exact in every type, and every partial
     * sum of a logit is a multiple of σ/64 below hidden·σ in magnitude — exact in F32 while
     * hidden ≤ 2¹⁸. So every device computes the same logits in any order, and the routing cannot
     * differ from the reference's by a rounding.
     */
    static double[] tokens(Shape s, long first, int count) {
        double[] v = new double[count * s.hidden()];
        for (int i = 0; i < v.length; i++) {
            v[i] = eighth(s.seed(), TOKENS, first * s.hidden() + i);
        }
        return v;
    }

    /** W_r, hidden × experts; σ puts the logits' standard deviation (≈ 0.375·σ·√hidden) between 1 and 2. */
    static double[] routerWeights(Shape s) {
        double sigma = Math.scalb(1.0, -Math.getExponent(0.375 * Math.sqrt(s.hidden())));
        double[] v = new double[s.hidden() * s.experts()];
        for (int i = 0; i < v.length; i++) {
            v[i] = eighth(s.seed(), ROUTER, i) * sigma;
        }
        return v;
    }

    /** Expert e's W_1, hidden × ffn: uniform with variance 1/hidden, rounded to the layer's type. */
    static double[] upWeights(Shape s, int e) {
        return uniform(s, UP, (long) e * s.hidden() * s.ffn(), s.hidden() * s.ffn(), Math.sqrt(3.0 / s.hidden()));
    }

    /** Expert e's W_2, ffn × hidden: uniform with variance 1/ffn, rounded to the layer's type. */
    static double[] downWeights(Shape s, int e) {
        return uniform(s, DOWN, (long) e * s.ffn() * s.hidden(), s.ffn() * s.hidden(), Math.sqrt(3.0 / s.ffn()));
    }

    private static double[] uniform(Shape s, int tensor, long first, int count, double scale) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = round(s.dtype(), scale * (2 * (hash(s.seed(), tensor, first + i) >>> 11) * 0x1p-53 - 1));
        }
        return v;
    }

    /** One of −1, −7/8, …, 7/8, 1. */
    private static double eighth(long seed, int tensor, long index) {
        return (Long.remainderUnsigned(hash(seed, tensor, index), 17) - 8) / 8.0;
    }

    /** SplitMix64's finaliser over (seed, tensor, index): any element without making the ones before it. */
    private static long hash(long seed, int tensor, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + tensor * 0xD1B54A32D192ED03L + index * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code v} rounded to the nearest value of {@code type}. */
    static double round(DType type, double v) {
        return type == DType.F64 ? v : NarrowFloat.round(type, (float) v);
    }

    // ---------------------------------------------------------------------------------------------
    // Host staging and small helpers.

    /** Start of part p when {@code total} items are split into {@code parts} contiguous parts, the first total % parts one larger. */
    static long start(long total, int parts, int p) {
        return p * (total / parts) + Math.min(p, total % parts);
    }

    /** Stores {@code values} (rounded to the buffer's type) from element {@code at} of {@code buf}. */
    private void upload(DeviceBuffer buf, long at, double[] values) {
        DType t = buf.dtype();
        for (int from = 0; from < values.length; from += SLICE) {
            int n = Math.min(SLICE, values.length - from);
            for (int i = 0; i < n; i++) {
                put(t, staging, i, values[from + i]);
            }
            buf.copyFrom(at + from, staging.asSlice(0, (long) n * t.byteSize()));
        }
    }

    /** Elements [at, at + count) of {@code buf}, exactly, as doubles. */
    private double[] download(DeviceBuffer buf, long at, int count) {
        DType t = buf.dtype();
        double[] v = new double[count];
        for (int from = 0; from < count; from += SLICE) {
            int n = Math.min(SLICE, count - from);
            buf.copyTo(at + from, staging.asSlice(0, (long) n * t.byteSize()));
            for (int i = 0; i < n; i++) {
                v[from + i] = get(t, staging, i);
            }
        }
        return v;
    }

    /** Element {@code i} of host memory holding {@code t}, widened exactly (the public {@link NarrowFloat} for the narrow types). */
    private static double get(DType t, MemorySegment s, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case F16 -> NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            default -> throw new IllegalArgumentException("the MoE layer stores F32, F64, BF16 or F16, got " + t.label());
        };
    }

    /** Stores {@code v} as element {@code i}, rounded once to {@code t} (through F32 for the narrow types, which holds it exactly here). */
    private static void put(DType t, MemorySegment s, long i, double v) {
        switch (t) {
            case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
            case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
            case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, NarrowFloat.toBf16((float) v));
            case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, NarrowFloat.toF16((float) v));
            default -> throw new IllegalArgumentException("the MoE layer stores F32, F64, BF16 or F16, got " + t.label());
        }
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long v : a) {
            s += v;
        }
        return s;
    }

    /** Row counts as element counts. */
    private static long[] times(long[] rows, int width) {
        long[] v = new long[rows.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = rows[i] * width;
        }
        return v;
    }

    /** Blocks laid end to end: each one's first element. */
    private static long[] offsets(long[] rows, int width) {
        long[] v = new long[rows.length];
        for (int i = 1; i < v.length; i++) {
            v[i] = v[i - 1] + rows[i - 1] * width;
        }
        return v;
    }
}
