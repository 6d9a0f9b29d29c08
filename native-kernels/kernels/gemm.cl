/*
 * gemm.cl — general matrix multiply, C := alpha·op(A − za)·op(B − zb) + beta·C, in one source for
 * every type pair (A and B share the input type; C has the output type):
 *   F32 → F32, F64 → F64          computed in the type itself;
 *   BF16 → BF16 | F32, F16 → F16 | F32  widened exactly to float when packed, products exact,
 *                                 accumulated in float, alpha/beta float, C rounded once (to
 *                                 nearest even) when written: the F32 kernel on converted panels;
 *   I8 → I32                      (a − za)(b − zb) accumulated in 32 bits wrapping modulo 2^32
 *                                 (uint arithmetic: defined overflow), alpha/beta integers, the
 *                                 zero points za, zb kernel arguments (0 for the other types).
 *
 * Layout. A, B and C are column-major with leading dimensions lda, ldb, ldc and element offsets;
 * op(X) is X or Xᵀ. Item b of a strided batch starts stride·b elements further (dimension 2 of
 * every launch is the batch item). Indices are 64-bit: matrices beyond 2^31 elements are fine.
 *
 * Method (the BLIS scheme, one register tile per work-item):
 *   1. pack_panels copies op(A), converted to the compute type (below; the BLIS way of mixing
 *      types), into panels of KB_MR rows: panel i holds rows [i·MR, i·MR + MR) of all k
 *      columns, element (r, p) at (i·k + p)·MR + r, rows past m filled with zero.
 *   2. pack_panels does the same for op(B), panels of KB_NR columns: element (p, c) of panel j at
 *      (j·k + p)·NR + c, columns past n filled with zero.
 *   3. gemm_packed: work-item (j, i) multiplies A panel i by B panel j, keeping the MR×NR tile of
 *      C in registers (KB_MV vectors of KB_VW elements per column), one pass over k, each
 *      product accumulated in order p = 0, 1, …, k−1 (results do not depend on the launch
 *      shape). It then writes alpha·tile + beta·C; when beta == 0, C is written without being
 *      read, so NaN or garbage in C never reaches the result; a narrow C is rounded there, once.
 *      Zero padding keeps the inner loop
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
 * Set by the loader, not tuned (a type pair selects a build, the tunables stay the same):
 *   KB_IN   type of A and B: 0 F32, 1 F64, 2 BF16, 3 F16, 4 I8         (default F64 if KB_DOUBLE, else F32)
 *   KB_OUT  type of C:       0 F32, 1 F64, 2 BF16, 3 F16, 5 I32        (default: KB_IN's own; I32 for I8)
 *   KB_DOUBLE  1 exactly when the pair is F64 → F64 (enables cl_khr_fp64)
 * Compute type (packed panels, accumulators, alpha and beta): double for F64, uint for I8, else float.
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

#define KB_T_F32 0
#define KB_T_F64 1
#define KB_T_BF16 2
#define KB_T_F16 3
#define KB_T_I8 4
#define KB_T_I32 5
#ifndef KB_IN
  #if KB_DOUBLE
    #define KB_IN KB_T_F64
  #else
    #define KB_IN KB_T_F32
  #endif
#endif
#ifndef KB_OUT
  #if KB_IN == KB_T_I8
    #define KB_OUT KB_T_I32
  #else
    #define KB_OUT KB_IN
  #endif
#endif
#if (KB_IN == KB_T_F64) != (KB_OUT == KB_T_F64) || (KB_IN == KB_T_F64) != (KB_DOUBLE == 1)
#error "F64 pairs only with F64, and exactly when KB_DOUBLE is 1"
#endif
#if (KB_IN == KB_T_I8) != (KB_OUT == KB_T_I32)
#error "I8 inputs pair only with I32 results"
#endif
#if KB_IN == KB_T_I32 || (KB_IN == KB_T_F32 && KB_OUT != KB_T_F32) || ((KB_IN == KB_T_BF16 || KB_IN == KB_T_F16) && KB_OUT != KB_IN && KB_OUT != KB_T_F32)
#error "unsupported KB_IN/KB_OUT pair: F32→F32, F64→F64, BF16→BF16|F32, F16→F16|F32, I8→I32"
#endif

/* The compute type (acc) and how an input element widens to it: KB_WIDEN(x, i, zero) is element i. */
#if KB_IN == KB_T_I8
  #define KB_ACC uint
  typedef kb_i8_t in_t;
  /* The difference is exact in int; as uint its two's complement bits multiply and add modulo 2^32. */
  #define KB_WIDEN(x, i, zero) ((uint) ((int) (x)[i] - (zero)))
  #define KB_MAD(a, b, c) ((a) * (b) + (c))
#else
  #define KB_ACC KB_REAL
  #define KB_MAD(a, b, c) fma(a, b, c)
  #if KB_IN == KB_T_BF16
    typedef ushort in_t;
    #define KB_WIDEN(x, i, zero) kb_bf16_to_float((x)[i])
  #elif KB_IN == KB_T_F16
    typedef kb_half_t in_t;
    #define KB_WIDEN(x, i, zero) kb_half_load(i, x)
  #else
    typedef real in_t;
    #define KB_WIDEN(x, i, zero) ((x)[i])
  #endif
#endif
typedef KB_ACC acc;

/* The element type of C; KB_LOAD_C widens element i to acc, KB_STORE_C rounds v once into it. */
#if KB_OUT == KB_T_BF16
  typedef ushort out_t;
  #define KB_LOAD_C(c, i) kb_bf16_to_float((c)[i])
  #define KB_STORE_C(v, c, i) ((c)[i] = kb_float_to_bf16(v))
#elif KB_OUT == KB_T_F16
  typedef kb_half_t out_t;
  #define KB_LOAD_C(c, i) kb_half_load(i, c)
  #define KB_STORE_C(v, c, i) kb_half_store(v, i, c)
#else
  /* F32, F64 and I32 (as uint bits): C holds the compute type itself and takes vector stores. */
  #define KB_C_IS_ACC 1
  typedef acc out_t;
  #define KB_LOAD_C(c, i) ((c)[i])
  #define KB_STORE_C(v, c, i) ((c)[i] = (v))
#endif
#ifndef KB_C_IS_ACC
  #define KB_C_IS_ACC 0
#endif

#if KB_VW == 1
  typedef acc accV;
  #define VLOAD(i, p) ((p)[i])
  #define VSTORE(x, i, p) ((p)[i] = (x))
  #define VSPLAT(x) (x)
#else
  typedef KB_CAT(KB_ACC, KB_VW) accV;
  #define VLOAD(i, p) KB_CAT(vload, KB_VW)(i, p)
  #define VSTORE(x, i, p) KB_CAT(vstore, KB_VW)(x, i, p)
  #define VSPLAT(x) ((accV)(x))
#endif

/* Index of element (r, p) of op(X) where X is column-major with leading dimension ld. */
KB_DEVICE_FN ulong kb_op_index(ulong ld, int trans, ulong r, ulong p) {
    return trans ? p + r * ld : r + p * ld;
}

/* Global size (rows rounded up to a multiple of width, k, batch). zero is subtracted from every
   element (I8 zero points; 0 and unused for the float types). */
__kernel void pack_panels(ulong rows, ulong k, uint width, int trans,
                          __global const in_t* restrict x, ulong offset, ulong ld, ulong stride, int zero,
                          __global acc* restrict packed) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong r = get_global_id(0), p = get_global_id(1), item = get_global_id(2);
    const ulong panels = (rows + width - 1) / width;
    acc v = r < rows ? KB_WIDEN(x, offset + item * stride + kb_op_index(ld, trans, r, p), zero) : (acc) 0;
    packed[item * panels * width * k + ((r / width) * k + p) * width + r % width] = v;
}

/*
 * The tile code every GEMM kernel runs: one work-item multiplies A panel a (KB_MR rows, k deep) by
 * B panel b (KB_NR columns) and writes alpha·tile + beta·C into rows i0… and columns j0… of the
 * m×n matrix C at c + cb with leading dimension ldc. All work-items of a work-group must call it
 * with the same a and k (they stage a together when KB_LA is 1); one past the last column panel
 * passes active = false and a valid b, takes part in the staging, and writes nothing. aTile is
 * the work-group's local staging area (KB_KC·KB_MR elements; unused when KB_LA is 0).
 */
KB_DEVICE_FN void kb_gemm_tile(ulong m, ulong n, ulong k, acc alpha, acc beta,
                               __global const acc* restrict a, __global const acc* restrict b, bool active,
                               __global out_t* restrict c, ulong cb, ulong ldc, ulong i0, ulong j0, KB_LOCAL acc* aTile) {
    accV sum[KB_NR][KB_MV];
    #pragma unroll
    for (int cj = 0; cj < KB_NR; cj++) {
        #pragma unroll
        for (int v = 0; v < KB_MV; v++) {
            sum[cj][v] = VSPLAT(0);
        }
    }

    /* One rank-1 update of the tile from A rows at arow and B row pp: MV vector loads, NR broadcasts. */
    #define KB_GEMM_STEP(arow, pp) do {                                        \
        accV av[KB_MV];                                                        \
        _Pragma("unroll") for (int v = 0; v < KB_MV; v++) {                    \
            av[v] = VLOAD(v, arow);                                            \
        }                                                                      \
        _Pragma("unroll") for (int cj = 0; cj < KB_NR; cj++) {                 \
            const accV bv = VSPLAT(b[(pp) * KB_NR + cj]);                      \
            _Pragma("unroll") for (int v = 0; v < KB_MV; v++) {                \
                sum[cj][v] = KB_MAD(av[v], bv, sum[cj][v]);                    \
            }                                                                  \
        }                                                                      \
    } while (0)

#if KB_LA
    /* The work-group shares one A panel: stage it KB_KC rows at a time in local memory. */
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

#if KB_C_IS_ACC
    /* Whole tiles of a C in the compute type: vector loads and stores. */
    if (i0 + KB_MR <= m) {
        const accV alphaV = VSPLAT(alpha), betaV = VSPLAT(beta);
        #pragma unroll
        for (int cj = 0; cj < KB_NR; cj++) {
            if (j0 + cj < n) {
                __global out_t* col = c + cb + i0 + (j0 + cj) * ldc;
                #pragma unroll
                for (int v = 0; v < KB_MV; v++) {
                    accV r = alphaV * sum[cj][v];
                    if (beta != (acc) 0) {
                        r += betaV * VLOAD(v, col);
                    }
                    VSTORE(r, v, col);
                }
            }
        }
        return;
    }
#endif
    /* Edge tiles, and every tile of a narrow C: element by element, each rounded once into C. */
    acc lanes[KB_MR];
    #pragma unroll
    for (int cj = 0; cj < KB_NR; cj++) {
        if (j0 + cj < n) {
            #pragma unroll
            for (int v = 0; v < KB_MV; v++) {
                VSTORE(sum[cj][v], v, lanes);
            }
            const ulong col = cb + i0 + (j0 + cj) * ldc;
            for (int r = 0; r < KB_MR && i0 + r < m; r++) {
                acc x = alpha * lanes[r];
                if (beta != (acc) 0) {
                    x += beta * KB_LOAD_C(c, col + r);
                }
                KB_STORE_C(x, c, col + r);
            }
        }
    }
}

/* Global size (column panels rounded up to KB_WG, row panels, batch); local (KB_WG, 1, 1). */
__kernel void gemm_packed(ulong m, ulong n, ulong k, acc alpha, acc beta,
                          __global const acc* restrict ap, __global const acc* restrict bp,
                          __global out_t* restrict c, ulong offc, ulong ldc, ulong stridec) {
    __local acc aTile[KB_LA ? KB_KC * KB_MR : 1];
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong jp = get_global_id(0), ip = get_global_id(1), item = get_global_id(2);
    const ulong mPanels = (m + KB_MR - 1) / KB_MR, nPanels = (n + KB_NR - 1) / KB_NR;
    /* Work-items past the last column panel still take part in staging (barriers), then stop. */
    const bool active = jp < nPanels;
    __global const acc* a = ap + (item * mPanels + ip) * k * KB_MR;
    __global const acc* b = bp + (item * nPanels + (active ? jp : nPanels - 1)) * k * KB_NR;
    kb_gemm_tile(m, n, k, alpha, beta, a, b, active, c, offc + item * stridec, ldc, ip * KB_MR, jp * KB_NR, aTile);
}

/* Element at of C := beta·C, exact +0 when beta == 0 (k == 0 and alpha == 0 mean only this). */
KB_DEVICE_FN void kb_scale_element(acc beta, __global out_t* c, ulong at) {
    const acc x = beta == (acc) 0 ? (acc) 0 : beta * KB_LOAD_C(c, at);
    KB_STORE_C(x, c, at);
}

/* C := beta·C, writing exact +0 when beta == 0. Global size (m, n, batch). */
__kernel void scale_c(acc beta, __global out_t* c, ulong offc, ulong ldc, ulong stridec) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0), j = get_global_id(1), item = get_global_id(2);
    kb_scale_element(beta, c, offc + item * stridec + i + j * ldc);
}

/*
 * Grouped GEMM: independent GEMMs (the groups; each item of a batch is a group here) of one type
 * pair in one packing launch per operand (pack_grouped_box or pack_grouped_rows) and one launch of
 * gemm_grouped, over a table the host writes. Each group runs exactly the steps above, so its bits equal the plain kernels'.
 *
 * The table: KB_GT_FIELDS ulongs per group at the KB_GT_* indices. Operand X (A at KB_GT_A, B at
 * KB_GT_B) is read as pack_panels reads it (rows: m for A, n for B; B's trans already flipped),
 * from buffer slot KB_GT_SLOT, packed from element KB_GT_PACKED of the packed buffer, and its rows,
 * padded to whole panels, start at row KB_GT_FIRST_ROW of the pack launch's row space; C is written
 * in slot KB_GT_C_SLOT; the group's tiles start at KB_GT_FIRST_TILE. The prefix fields never
 * decrease from one group to the next: a work-item finds its group by binary search. A group with no
 * rows or tiles in a space (k == 0 packs nothing) is never found there; one with k == 0 has its
 * tiles scale C (C := beta·C). alpha and beta of group g are scalars[2g] and scalars[2g + 1].
 *
 * Buffers: an OpenCL 1.2 kernel cannot take addresses from a buffer, so a launch takes
 * KB_GROUP_SLOTS buffers per operand as arguments (x0…, c0…; unused slots repeat slot 0) and a
 * group names its slot. The host splits calls with more distinct buffers into several launches.
 */
#define KB_GROUP_SLOTS 8
#define KB_GT_K 0
#define KB_GT_A 1
#define KB_GT_B 9
#define KB_GT_ROWS 0
#define KB_GT_TRANS 1
#define KB_GT_SLOT 2
#define KB_GT_OFFSET 3
#define KB_GT_LD 4
#define KB_GT_ZERO 5
#define KB_GT_PACKED 6
#define KB_GT_FIRST_ROW 7
#define KB_GT_C_SLOT 17
#define KB_GT_C_OFFSET 18
#define KB_GT_C_LD 19
#define KB_GT_FIRST_TILE 20
#define KB_GT_FIELDS 21

#define KB_SLOT_PARAMS(decl, x) decl x##0, decl x##1, decl x##2, decl x##3, decl x##4, decl x##5, decl x##6, decl x##7
#define KB_SLOT(s, x) ((s) == 0 ? x##0 : (s) == 1 ? x##1 : (s) == 2 ? x##2 : (s) == 3 ? x##3 \
                     : (s) == 4 ? x##4 : (s) == 5 ? x##5 : (s) == 6 ? x##6 : x##7)

/* The last group whose prefix field is at most index: the group that owns index. */
KB_DEVICE_FN ulong kb_find_group(__global const ulong* table, ulong groups, int field, ulong index) {
    ulong lo = 0, hi = groups - 1;
    while (lo < hi) {
        const ulong mid = lo + (hi - lo + 1) / 2;
        if (table[mid * KB_GT_FIELDS + field] <= index) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

/*
 * Packing for the grouped kernels: element (r, p) of operand 0 (A) or 1 (B) of group g, in the layout
 * of pack_panels; nothing past the group's padded rows or its k. The panel widths are constants, so
 * the index arithmetic needs no division at run time.
 */
KB_DEVICE_FN void kb_pack_grouped(__global const ulong* g, int operand, ulong r, ulong p,
                                  KB_SLOT_PARAMS(__global const in_t*, x), __global acc* restrict packed) {
    const int f = operand == 0 ? KB_GT_A : KB_GT_B;
    const ulong k = g[KB_GT_K], rows = g[f + KB_GT_ROWS];
    const ulong padded = operand == 0 ? (rows + KB_MR - 1) / KB_MR * KB_MR : (rows + KB_NR - 1) / KB_NR * KB_NR;
    if (p >= k || r >= padded) {
        return;
    }
    const ulong at = operand == 0 ? ((r / KB_MR) * k + p) * KB_MR + r % KB_MR : ((r / KB_NR) * k + p) * KB_NR + r % KB_NR;
    __global const in_t* x = KB_SLOT(g[f + KB_GT_SLOT], x);
    packed[g[f + KB_GT_PACKED] + at] = r < rows
            ? KB_WIDEN(x, g[f + KB_GT_OFFSET] + kb_op_index(g[f + KB_GT_LD], (int) g[f + KB_GT_TRANS], r, p), (int) g[f + KB_GT_ZERO])
            : (acc) 0;
}

/*
 * Global size (the most padded rows of a group, the largest k, groups): the group is dimension 2, no
 * search. For groups of about one size, such as the G expert weights of a ragged call. It has no loop
 * of its own, so a CPU runtime can vectorise across its work-items (an inner loop would stop that).
 */
__kernel void pack_grouped_box(__global const ulong* restrict table, int operand,
                               KB_SLOT_PARAMS(__global const in_t*, x), __global acc* restrict packed) {
    if (!KB_IN_RANGE()) {
        return;
    }
    kb_pack_grouped(table + get_global_id(2) * KB_GT_FIELDS, operand, get_global_id(0), get_global_id(1),
                    x0, x1, x2, x3, x4, x5, x6, x7, packed);
}

/*
 * Global size (padded rows of the operand over every group, the largest k, 1): each work-item finds
 * its group by binary search of the row. For ragged sizes, where a box would be mostly empty.
 */
__kernel void pack_grouped_rows(__global const ulong* restrict table, ulong groups, int operand,
                                KB_SLOT_PARAMS(__global const in_t*, x), __global acc* restrict packed) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const int first = (operand == 0 ? KB_GT_A : KB_GT_B) + KB_GT_FIRST_ROW;
    __global const ulong* g = table + kb_find_group(table, groups, first, get_global_id(0)) * KB_GT_FIELDS;
    kb_pack_grouped(g, operand, get_global_id(0) - g[first], get_global_id(1), x0, x1, x2, x3, x4, x5, x6, x7, packed);
}

/*
 * Global size (tiles over every group · KB_WG, 1, 1); local (KB_WG, 1, 1). A group of m×n has
 * ceil(m / KB_MR) row panels times ceil(ceil(n / KB_NR) / KB_WG) work-groups of column panels,
 * row panel first: work-group w is the tile whose KB_WG column panels share one A panel, as in
 * gemm_packed.
 */
__kernel void gemm_grouped(__global const ulong* restrict table, ulong groups, __global const acc* restrict scalars,
                           __global const acc* restrict ap, __global const acc* restrict bp,
                           KB_SLOT_PARAMS(__global out_t*, c)) {
    __local acc aTile[KB_LA ? KB_KC * KB_MR : 1];
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong w = get_global_id(0) / KB_WG;
    const ulong gi = kb_find_group(table, groups, KB_GT_FIRST_TILE, w);
    __global const ulong* g = table + gi * KB_GT_FIELDS;
    const ulong m = g[KB_GT_A + KB_GT_ROWS], n = g[KB_GT_B + KB_GT_ROWS], k = g[KB_GT_K];
    const ulong nPanels = (n + KB_NR - 1) / KB_NR, blocks = (nPanels + KB_WG - 1) / KB_WG;
    const ulong t = w - g[KB_GT_FIRST_TILE], ip = t / blocks, jp = (t % blocks) * KB_WG + get_local_id(0);
    const bool active = jp < nPanels;
    const acc alpha = scalars[2 * gi], beta = scalars[2 * gi + 1];
    __global out_t* c = KB_SLOT(g[KB_GT_C_SLOT], c);
    const ulong cb = g[KB_GT_C_OFFSET], ldc = g[KB_GT_C_LD], i0 = ip * KB_MR, j0 = jp * KB_NR;
    if (k == 0) {
        /* The whole work-group takes this branch (one group per work-group): no barrier is skipped. */
        for (int cj = 0; active && cj < KB_NR && j0 + cj < n; cj++) {
            for (int r = 0; r < KB_MR && i0 + r < m; r++) {
                kb_scale_element(beta, c, cb + i0 + r + (j0 + cj) * ldc);
            }
        }
        return;
    }
    __global const acc* a = ap + g[KB_GT_A + KB_GT_PACKED] + ip * k * KB_MR;
    __global const acc* b = bp + g[KB_GT_B + KB_GT_PACKED] + (active ? jp : nPanels - 1) * k * KB_NR;
    kb_gemm_tile(m, n, k, alpha, beta, a, b, active, c, cb, ldc, i0, j0, aTile);
}
