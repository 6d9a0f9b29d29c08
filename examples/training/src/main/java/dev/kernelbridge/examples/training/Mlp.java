package dev.kernelbridge.examples.training;

import dev.kernelbridge.Blas;
import java.util.SplittableRandom;

/**
 * A multi-layer perceptron (ReLU hidden layers, softmax cross-entropy) whose parameters live in one
 * flat array, so that the optimizer, the gradient all-reduce and the checkpoint each see one vector.
 * Layer l holds W_l (in_l × out_l, row-major) then b_l (out_l). Every GEMM of the forward and backward
 * pass goes through {@link Blas#dgemm}; everything else is plain Java on the host, the same on every
 * rank. Not thread-safe: one per rank.
 */
final class Mlp {
    final int[] widths;
    final double[] parameters;
    private final int[] weightOffset, biasOffset;

    /** {@code widths} = inputs, hidden..., classes. Parameters start He-initialised from {@code seed}, on the weight grid. */
    Mlp(int[] widths, long seed) {
        this.widths = widths.clone();
        int layers = widths.length - 1;
        weightOffset = new int[layers];
        biasOffset = new int[layers];
        int n = 0;
        for (int l = 0; l < layers; l++) {
            weightOffset[l] = n;
            n += widths[l] * widths[l + 1];
            biasOffset[l] = n;
            n += widths[l + 1];
        }
        parameters = new double[n];
        SplittableRandom r = new SplittableRandom(seed * 31 + 7);
        for (int l = 0; l < layers; l++) {
            double[] w = SyntheticTask.gaussian(r, widths[l] * widths[l + 1], StrictMath.sqrt(2.0 / widths[l]));
            System.arraycopy(w, 0, parameters, weightOffset[l], w.length);
        }
        FixedPoint.WEIGHT.roundAll(parameters);
    }

    int layers() {
        return widths.length - 1;
    }

    /** Checks, for a shard of {@code rows} samples out of a global batch, that every GEMM below is exact in F64. */
    void requireExact(int globalBatch) {
        for (int l = 0; l < layers(); l++) {
            FixedPoint.requireExact("forward layer " + l, FixedPoint.ACTIVATION, FixedPoint.WEIGHT, widths[l]);
            FixedPoint.requireExact("weight gradient " + l + " (summed over the global batch)", FixedPoint.ACTIVATION,
                    FixedPoint.GRADIENT, globalBatch);
            if (l > 0) {
                FixedPoint.requireExact("input gradient " + l, FixedPoint.GRADIENT, FixedPoint.WEIGHT, widths[l + 1]);
            }
        }
    }

    /** Per-rank scratch: activations and their gradients for a shard of {@code rows} samples. */
    final class Workspace {
        final int rows;
        final double[][] activations; // [0] = inputs, [l] = output of layer l-1 after ReLU, last = logits
        final double[][] deltas;
        final int[] labels;

        Workspace(int rows) {
            this.rows = rows;
            activations = new double[widths.length][];
            deltas = new double[widths.length][];
            for (int l = 0; l < widths.length; l++) {
                activations[l] = new double[rows * widths[l]];
                deltas[l] = new double[rows * widths[l]];
            }
            labels = new int[rows];
        }
    }

    /**
     * Forward and backward pass over the shard in {@code ws} (inputs and labels filled in), for a loss
     * that is the mean over {@code globalBatch} samples. Writes this shard's share of the gradient into
     * {@code gradient} (same layout as the parameters) and returns {loss sum, correct predictions}, both exact.
     */
    double[] lossAndGradient(Blas blas, Workspace ws, int globalBatch, double[] gradient) {
        int rows = ws.rows, layers = layers();
        for (int l = 0; l < layers; l++) {
            int in = widths[l], out = widths[l + 1];
            double[] x = ws.activations[l], z = ws.activations[l + 1];
            // z (rows × out, row-major) = x (rows × in) · W (in × out): column-major zᵀ = Wᵀ · xᵀ
            blas.dgemm("N", "N", out, rows, in, 1.0, parameters, weightOffset[l], out, x, 0, in, 0.0, z, 0, out);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < out; j++) {
                    double v = z[i * out + j] + parameters[biasOffset[l] + j];
                    z[i * out + j] = l + 1 < layers ? FixedPoint.ACTIVATION.round(Math.max(0, v)) : v;
                }
            }
        }
        // Softmax cross-entropy; the gradient of the mean loss, on the gradient grid.
        int classes = widths[layers];
        double[] logits = ws.activations[layers], delta = ws.deltas[layers];
        double lossSum = 0, correct = 0;
        for (int i = 0; i < rows; i++) {
            double max = Double.NEGATIVE_INFINITY;
            int argmax = 0;
            for (int c = 0; c < classes; c++) {
                if (logits[i * classes + c] > max) {
                    max = logits[i * classes + c];
                    argmax = c;
                }
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += StrictMath.exp(logits[i * classes + c] - max);
            }
            int y = ws.labels[i];
            lossSum += LOSS.round(StrictMath.log(sum) - (logits[i * classes + y] - max));
            correct += argmax == y ? 1 : 0;
            for (int c = 0; c < classes; c++) {
                double p = StrictMath.exp(logits[i * classes + c] - max) / sum;
                delta[i * classes + c] = FixedPoint.GRADIENT.round((p - (c == y ? 1 : 0)) / globalBatch);
            }
        }
        for (int l = layers - 1; l >= 0; l--) {
            int in = widths[l], out = widths[l + 1];
            double[] x = ws.activations[l], d = ws.deltas[l + 1];
            // dW (in × out, row-major) = xᵀ · d: column-major dWᵀ = dᵀ · x
            blas.dgemm("N", "T", out, in, rows, 1.0, d, 0, out, x, 0, in, 0.0, gradient, weightOffset[l], out);
            for (int j = 0; j < out; j++) {
                double s = 0;
                for (int i = 0; i < rows; i++) {
                    s += d[i * out + j];
                }
                gradient[biasOffset[l] + j] = s;
            }
            if (l > 0) {
                double[] dx = ws.deltas[l];
                // dx (rows × in) = d · Wᵀ: column-major dxᵀ = W · dᵀ
                blas.dgemm("T", "N", in, rows, out, 1.0, parameters, weightOffset[l], out, d, 0, out, 0.0, dx, 0, in);
                for (int i = 0; i < dx.length; i++) {
                    dx[i] = x[i] > 0 ? FixedPoint.GRADIENT.round(dx[i]) : 0;
                }
            }
        }
        return new double[] {lossSum, correct};
    }

    /** Per-sample losses: grid 2^-30, below 2^12, so a sum over up to 2^11 samples is exact. */
    static final FixedPoint LOSS = new FixedPoint("loss", 30, 12);
}
