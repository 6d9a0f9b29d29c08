/*
 * gemm.cl — general matrix multiply, C := alpha·op(A)·op(B) + beta·C, for F32 and F64.
 *
 * Layout. A, B and C are column-major with leading dimensions lda, ldb, ldc and element offsets;
 * op(X) is X or Xᵀ. Item b of a strided batch starts stride·b elements further (dimension 2 of
 * every launch is the batch item). Indices are 64-bit: matrices beyond 2^31 elements are fine.
 *
 * Method (the BLIS scheme, one register tile per work-item):
 *   1. pack_a copies op(A) into panels of KB_MR rows: panel i holds rows [i·MR, i·MR + MR) of
 *      all k columns, element (r, p) at (i·k + p)·MR + r, rows past m filled with zero.
 *   2. pack_b copies op(B) into panels of KB_NR columns: element (p, c) of panel j at
 *      (j·k + p)·NR + c, columns past n filled with zero.
 *   3. gemm_packed: work-item (j, i) multiplies A panel i by B panel j, keeping the MR×NR tile of
 *      C in registers (KB_MV vectors of KB_VW elements per column), one pass over k, each
 *      product accumulated in order p = 0, 1, …, k−1 (results do not depend on the launch
 *      shape). It then writes alpha·tile + beta·C; when beta == 0, C is written without being
 *      read, so NaN or garbage in C never reaches the result. Zero padding keeps the inner loop
 *      free of bounds checks; only the write is masked at the edges of C.
 *   4. scale_c serves k == 0 (and alpha == 0): C := beta·C, exact +0 when beta == 0.
 *
 * Tunables (each a -D define; the defaults are safe on any OpenCL 1.2 device):
 *   KB_VW  elements per vector load and FMA: 1, 2, 4, 8 or 16                    (default 4)
 *   KB_MV  vectors per tile column, so a tile is MR = VW·MV rows                   (default 2)
 *   KB_NR  columns per tile (registers: MV·NR accumulators)                       (default 4)
 *   KB_KU  unroll factor of the k loop                                             (default 2)
 *   KB_WG  work-items per work-group along the tile columns (dimension 0)          (default 1)
 *   KB_LA  1: the work-group stages its shared A panel in local memory, KB_KC rows
 *          at a time (pays where global loads are slow: GPUs); 0: read A directly  (default 0)
 *   KB_KC  rows of the A panel per local-memory stage (KB_LA = 1)                  (default 32)
 * Set by the loader, not tuned:  KB_DOUBLE (0 or 1).
 */

#ifndef KB_VW
#define KB_VW 4
#endif
#ifndef KB_MV
#define KB_MV 2
#endif
#ifndef KB_NR
#define KB_NR 4
#endif
#ifndef KB_KU
#define KB_KU 2
#endif
#ifndef KB_WG
#define KB_WG 1
#endif
#ifndef KB_LA
#define KB_LA 0
#endif
#ifndef KB_KC
#define KB_KC 32
#endif

#if KB_VW != 1 && KB_VW != 2 && KB_VW != 4 && KB_VW != 8 && KB_VW != 16
#error "KB_VW must be 1, 2, 4, 8 or 16"
#endif
#if KB_MV < 1 || KB_NR < 1 || KB_KU < 1 || KB_WG < 1 || KB_KC < 1
#error "KB_MV, KB_NR, KB_KU, KB_WG and KB_KC must be at least 1"
#endif
#if KB_LA != 0 && KB_LA != 1
#error "KB_LA must be 0 or 1"
#endif

#define KB_MR (KB_VW * KB_MV)

#define KB_CAT_(a, b) a##b
#define KB_CAT(a, b) KB_CAT_(a, b)

#if KB_VW == 1
  typedef real realV;
  #define VLOAD(i, p) ((p)[i])
  #define VSTORE(x, i, p) ((p)[i] = (x))
  #define VSPLAT(x) (x)
#else
  typedef KB_CAT(KB_REAL, KB_VW) realV;
  #define VLOAD(i, p) KB_CAT(vload, KB_VW)(i, p)
  #define VSTORE(x, i, p) KB_CAT(vstore, KB_VW)(x, i, p)
  #define VSPLAT(x) ((realV)(x))
#endif

/* Element (r, p) of op(X) where X is column-major with leading dimension ld. */
KB_DEVICE_FN real kb_op_element(__global const real* x, ulong ld, int trans, ulong r, ulong p) {
    return trans ? x[p + r * ld] : x[r + p * ld];
}

/* Global size (rows rounded up to a multiple of width, k, batch). */
__kernel void pack_panels(ulong rows, ulong k, uint width, int trans,
                          __global const real* restrict x, ulong offset, ulong ld, ulong stride,
                          __global real* restrict packed) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong r = get_global_id(0), p = get_global_id(1), item = get_global_id(2);
    const ulong panels = (rows + width - 1) / width;
    __global const real* xb = x + offset + item * stride;
    real v = r < rows ? kb_op_element(xb, ld, trans, r, p) : (real) 0;
    packed[item * panels * width * k + ((r / width) * k + p) * width + r % width] = v;
}

/* Global size (column panels rounded up to KB_WG, row panels, batch); local (KB_WG, 1, 1). */
__kernel void gemm_packed(ulong m, ulong n, ulong k, real alpha, real beta,
                          __global const real* restrict ap, __global const real* restrict bp,
                          __global real* restrict c, ulong offc, ulong ldc, ulong stridec) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong jp = get_global_id(0), ip = get_global_id(1), item = get_global_id(2);
    const ulong mPanels = (m + KB_MR - 1) / KB_MR, nPanels = (n + KB_NR - 1) / KB_NR;
    /* Work-items past the last column panel still take part in staging (barriers), then stop. */
    const bool active = jp < nPanels;
    __global const real* a = ap + (item * mPanels + ip) * k * KB_MR;
    __global const real* b = bp + (item * nPanels + (active ? jp : nPanels - 1)) * k * KB_NR;

    realV acc[KB_NR][KB_MV];
    #pragma unroll
    for (int cj = 0; cj < KB_NR; cj++) {
        #pragma unroll
        for (int v = 0; v < KB_MV; v++) {
            acc[cj][v] = VSPLAT(0);
        }
    }

    /* One rank-1 update of the tile from A rows at arow and B row pp: MV vector loads, NR broadcasts. */
    #define KB_GEMM_STEP(arow, pp) do {                                        \
        realV av[KB_MV];                                                       \
        _Pragma("unroll") for (int v = 0; v < KB_MV; v++) {                    \
            av[v] = VLOAD(v, arow);                                            \
        }                                                                      \
        _Pragma("unroll") for (int cj = 0; cj < KB_NR; cj++) {                 \
            const realV bv = VSPLAT(b[(pp) * KB_NR + cj]);                     \
            _Pragma("unroll") for (int v = 0; v < KB_MV; v++) {                \
                acc[cj][v] = fma(av[v], bv, acc[cj][v]);                       \
            }                                                                  \
        }                                                                      \
    } while (0)

#if KB_LA
    /* The work-group shares one A panel: stage it KB_KC rows at a time in local memory. */
    __local real aTile[KB_KC * KB_MR];
    const uint lid = (uint) get_local_id(0);
    for (ulong p0 = 0; p0 < k; p0 += KB_KC) {
        const uint kc = (uint) (k - p0 < KB_KC ? k - p0 : KB_KC);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint e = lid; e < kc * KB_MR; e += KB_WG) {
            aTile[e] = a[p0 * KB_MR + e];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        uint q = 0;
        for (; q + KB_KU <= kc; q += KB_KU) {
            #pragma unroll
            for (int u = 0; u < KB_KU; u++) {
                KB_GEMM_STEP(aTile + (q + u) * KB_MR, p0 + q + u);
            }
        }
        for (; q < kc; q++) {
            KB_GEMM_STEP(aTile + q * KB_MR, p0 + q);
        }
    }
#else
    ulong p = 0;
    for (; p + KB_KU <= k; p += KB_KU) {
        #pragma unroll
        for (int u = 0; u < KB_KU; u++) {
            KB_GEMM_STEP(a + (p + u) * KB_MR, p + u);
        }
    }
    for (; p < k; p++) {
        KB_GEMM_STEP(a + p * KB_MR, p);
    }
#endif
    if (!active) {
        return;
    }

    const ulong i0 = ip * KB_MR, j0 = jp * KB_NR;
    __global real* cb = c + offc + item * stridec;
    const realV alphaV = VSPLAT(alpha), betaV = VSPLAT(beta);
    if (i0 + KB_MR <= m) {
        #pragma unroll
        for (int cj = 0; cj < KB_NR; cj++) {
            if (j0 + cj < n) {
                __global real* col = cb + i0 + (j0 + cj) * ldc;
                #pragma unroll
                for (int v = 0; v < KB_MV; v++) {
                    realV r = alphaV * acc[cj][v];
                    if (beta != (real) 0) {
                        r += betaV * VLOAD(v, col);
                    }
                    VSTORE(r, v, col);
                }
            }
        }
    } else {
        real lanes[KB_MR];
        #pragma unroll
        for (int cj = 0; cj < KB_NR; cj++) {
            if (j0 + cj < n) {
                #pragma unroll
                for (int v = 0; v < KB_MV; v++) {
                    VSTORE(acc[cj][v], v, lanes);
                }
                __global real* col = cb + i0 + (j0 + cj) * ldc;
                for (int r = 0; r < KB_MR && i0 + r < m; r++) {
                    real x = alpha * lanes[r];
                    if (beta != (real) 0) {
                        x += beta * col[r];
                    }
                    col[r] = x;
                }
            }
        }
    }
}

/* C := beta·C, writing exact +0 when beta == 0. Global size (m, n, batch). */
__kernel void scale_c(real beta, __global real* c, ulong offc, ulong ldc, ulong stridec) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0), j = get_global_id(1), item = get_global_id(2);
    __global real* x = c + offc + item * stridec + i + j * ldc;
    *x = beta == (real) 0 ? (real) 0 : beta * *x;
}
