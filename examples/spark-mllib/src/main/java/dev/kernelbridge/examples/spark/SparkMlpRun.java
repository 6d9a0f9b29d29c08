package dev.kernelbridge.examples.spark;

import dev.kernelbridge.netlib.NetlibBridge;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel;
import org.apache.spark.ml.classification.MultilayerPerceptronClassifier;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Trains Spark MLlib's MultilayerPerceptronClassifier in local mode on a seeded synthetic
 * classification set made here (Gaussian clusters, one per class) and prints one line of results:
 * the final loss, test accuracy, training time, which BLAS Spark's level-3 calls reached and how
 * many GEMMs KernelBridge ran. Nothing in it mentions KernelBridge's seam: run it with
 * {@code -javaagent:kernelbridge-netlib.jar} and Spark's GEMMs go to KernelBridge.
 *
 * <p>Usage: SparkMlpRun layers(comma-separated) blockSize rows maxIter seed threads
 */
public final class SparkMlpRun {
    private SparkMlpRun() { }

    public static void main(String[] args) {
        int[] layers = Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray();
        int blockSize = Integer.parseInt(args[1]);
        int rows = Integer.parseInt(args[2]);
        int maxIter = Integer.parseInt(args[3]);
        long seed = Long.parseLong(args[4]);
        int threads = Integer.parseInt(args[5]);
        int features = layers[0], classes = layers[layers.length - 1];

        SparkSession spark = SparkSession.builder().master("local[" + threads + "]").appName("kernelbridge-mlp")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", String.valueOf(threads))
                .getOrCreate();
        spark.sparkContext().setLogLevel("ERROR");
        try {
            StructType schema = new StructType(new StructField[] {
                    DataTypes.createStructField("label", DataTypes.DoubleType, false),
                    DataTypes.createStructField("features", SQLDataTypes.VectorType(), false)});
            Dataset<Row> train = spark.createDataFrame(synthetic(rows, features, classes, seed), schema).repartition(threads).cache();
            Dataset<Row> test = spark.createDataFrame(synthetic(rows / 4, features, classes, seed + 1), schema).cache();
            train.count();
            test.count();

            MultilayerPerceptronClassifier mlp = new MultilayerPerceptronClassifier()
                    .setLayers(layers).setBlockSize(blockSize).setSeed(seed).setMaxIter(maxIter).setTol(0);
            long start = System.nanoTime();
            MultilayerPerceptronClassificationModel model = mlp.fit(train);
            double seconds = (System.nanoTime() - start) / 1e9;
            double[] history = model.summary().objectiveHistory();
            double accuracy = new MulticlassClassificationEvaluator().setMetricName("accuracy").evaluate(model.transform(test));
            System.out.printf("RESULT loss=%.9g accuracy=%.6f seconds=%.3f iterations=%d blas=%s kernelbridgeDgemm=%d kernelbridgeSgemm=%d%n",
                    history[history.length - 1], accuracy, seconds, history.length, levelThreeBlas(),
                    NetlibBridge.dgemmCalls(), NetlibBridge.sgemmCalls());
        } finally {
            spark.stop();
        }
    }

    /** What Spark's level-3 calls reach: NativeBLAS.getInstance(), or the Java BLAS Spark falls back to. */
    private static String levelThreeBlas() {
        try {
            return dev.ludovic.netlib.blas.NativeBLAS.getInstance().getClass().getName();
        } catch (RuntimeException e) {
            return dev.ludovic.netlib.blas.JavaBLAS.getInstance().getClass().getName();
        }
    }

    /** Rows around one Gaussian centre per class, centres and noise noisy enough that the task is learnable but not trivial. */
    static List<Row> synthetic(int rows, int features, int classes, long seed) {
        Random centresRng = new Random(42);                     // the same task for train and test sets
        double[][] centres = new double[classes][features];
        for (double[] c : centres) {
            for (int j = 0; j < features; j++) c[j] = centresRng.nextGaussian();
        }
        double noise = 2.5;                                     // with 32 features the clusters overlap: about 0.8-0.9 is reachable
        Random r = new Random(seed);
        List<Row> out = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            int label = r.nextInt(classes);
            double[] x = new double[features];
            for (int j = 0; j < features; j++) x[j] = centres[label][j] + noise * r.nextGaussian();
            out.add(RowFactory.create((double) label, Vectors.dense(x)));
        }
        return out;
    }
}
