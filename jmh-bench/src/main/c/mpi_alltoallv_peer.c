/*
 * The peer of KernelBridge's MPI all-to-all-v: plain MPI_Alltoallv (F32, the same block to every
 * peer) from C, timed the way the Java side (MpiAllToAllRatio) is: for each size, a warm-up, then
 * rounds of calls between barriers; rank 0 prints one JSON line per size with the median time per
 * call in microseconds. BYTES is per peer.
 * Usage: mpirun -np N mpi_alltoallv_peer ROUNDS CALLS_PER_ROUND BYTES...
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void* a, const void* b) {
    double x = *(const double*) a, y = *(const double*) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int rounds = atoi(argv[1]), calls = atoi(argv[2]);
    int* counts = malloc(sizeof(int) * size);
    int* displs = malloc(sizeof(int) * size);
    for (int s = 3; s < argc; s++) {
        long bytes = atol(argv[s]);
        int count = (int) (bytes / 4);
        long total = (long) count * size;
        for (int p = 0; p < size; p++) {
            counts[p] = count;
            displs[p] = p * count;
        }
        float* send = malloc(total * 4);
        float* recv = malloc(total * 4);
        for (long i = 0; i < total; i++) send[i] = (float) ((i * 7 + rank * 13) % 17);
        double* per = malloc(sizeof(double) * rounds);
        for (int w = 0; w < calls; w++) MPI_Alltoallv(send, counts, displs, MPI_FLOAT, recv, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
        for (int r = 0; r < rounds; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int c = 0; c < calls; c++) MPI_Alltoallv(send, counts, displs, MPI_FLOAT, recv, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
            per[r] = (MPI_Wtime() - t0) / calls * 1e6;
        }
        qsort(per, rounds, sizeof(double), cmp);
        if (rank == 0) {
            printf("{\"ranks\": %d, \"bytes\": %ld, \"us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f}\n",
                   size, bytes, per[rounds / 2], per[0], per[rounds - 1]);
            fflush(stdout);
        }
        free(send); free(recv); free(per);
    }
    free(counts); free(displs);
    MPI_Finalize();
    return 0;
}
