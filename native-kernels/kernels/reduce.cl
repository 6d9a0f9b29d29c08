/*
 * reduce.cl — the element-wise steps of the reducing collectives (all-reduce, reduce-scatter).
 *
 * Layout. Flat arrays; each kernel works on elements [0, n) of buffers that the host has already
 * narrowed to one rank's share (OpenCL sub-buffers), one work-item per element. Elements are
 * stored as elem_t and combined as acc_t: the same type for F32, F64 and I32; for BF16 and F16 the
 * storage is 16-bit bits and the accumulator a separate F32 buffer.
 *
 * Method. The host folds the ranks' inputs in rank order: acc = x0 ⊕ x1, then acc = acc ⊕ x2, …,
 * then (for avg) acc = acc / ranks; BF16 and F16 are widened exactly, folded in F32 and rounded once
 * at the end (reduce_round, round to nearest even as NarrowFloat). Every step is one IEEE operation
 * per element with no contraction, so the bits equal those of the CPU communicator for the same
 * inputs: results agree across ranks, runs, message sizes and devices. min and max follow Java's
 * Math.min and Math.max (NaN wins; −0 is below +0). I32 sums and products wrap mod 2^32 (computed
 * unsigned: signed overflow is undefined in C); I32 has no avg. A work-item reads its inputs before
 * writing acc, so acc may be x0.
 *
 * Operators (argument op): 0 sum (also avg before the division), 1 product, 2 min, 3 max.
 * Tunables: none; the driver chooses the work-group size.
 * Set by the loader: KB_DOUBLE (0 or 1) and KB_STORAGE: 0 elements of type real (F32, F64; the
 * default), 1 BF16 bits, 2 F16 bits, 3 I32. The narrow storages need KB_DOUBLE 0.
 */

#ifndef KB_STORAGE
  #define KB_STORAGE 0
#endif

#if KB_STORAGE == 0
  typedef real acc_t;
  typedef real elem_t;
  #define KB_LOAD(p, i) ((p)[i])
#elif KB_STORAGE == 1
  typedef float acc_t;
  typedef ushort elem_t;
  #define KB_LOAD(p, i) kb_bf16_to_float((p)[i])
  #define KB_STORE(p, i, v) ((p)[i] = kb_float_to_bf16(v))
#elif KB_STORAGE == 2
  typedef float acc_t;
  typedef kb_half_t elem_t;
  #define KB_LOAD(p, i) kb_half_load(i, p)
  #define KB_STORE(p, i, v) kb_store_f16(p, i, v)
#elif KB_STORAGE == 3
  typedef int acc_t;
  typedef int elem_t;
  #define KB_LOAD(p, i) ((p)[i])
#endif

#if KB_STORAGE == 2

/* vstore_half_rte rounds as NarrowFloat.toF16 except for NaN, whose bits it leaves to the
   implementation (PoCL writes 0x7fff): NaN is written as Java writes it, sign, quiet bit and the top
   ten payload bits. */
KB_DEVICE_FN void kb_store_f16(__global kb_half_t* p, ulong i, float v) {
    if (v != v) {
        const uint bits = kb_as_uint(v);
        ((__global ushort*) p)[i] = (ushort) (((bits >> 16) & 0x8000u) | 0x7e00u | ((bits >> 13) & 0x3ffu));
    } else {
        kb_half_store(v, i, p);
    }
}

#endif

#if KB_STORAGE == 3

KB_DEVICE_FN int kb_combine(int op, int a, int b) {
    switch (op) {
        case 1: return (int) ((uint) a * (uint) b);
        case 2: return a <= b ? a : b;
        case 3: return a >= b ? a : b;
        default: return (int) ((uint) a + (uint) b);
    }
}

#else

KB_DEVICE_FN acc_t kb_min(acc_t a, acc_t b) {
    if (a != a) {
        return a;
    }
    if (a == (acc_t) 0 && b == (acc_t) 0 && signbit(b)) {
        return b;
    }
    return a <= b ? a : b;
}

KB_DEVICE_FN acc_t kb_max(acc_t a, acc_t b) {
    if (a != a) {
        return a;
    }
    if (a == (acc_t) 0 && b == (acc_t) 0 && signbit(a)) {
        return b;
    }
    return a >= b ? a : b;
}

KB_DEVICE_FN acc_t kb_combine(int op, acc_t a, acc_t b) {
    switch (op) {
        case 1: return a * b;
        case 2: return kb_min(a, b);
        case 3: return kb_max(a, b);
        default: return a + b;
    }
}

#endif

/* acc := x0 ⊕ x1.  Global size n. */
__kernel void reduce_first(int op, __global acc_t* acc, __global const elem_t* x0, __global const elem_t* x1) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = kb_combine(op, KB_LOAD(x0, i), KB_LOAD(x1, i));
}

/* acc := acc ⊕ x.  Global size n. */
__kernel void reduce_next(int op, __global acc_t* acc, __global const elem_t* x) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = kb_combine(op, acc[i], KB_LOAD(x, i));
}

#if KB_STORAGE == 0

/* acc := acc / ranks (avg).  Global size n. */
__kernel void reduce_divide(__global acc_t* acc, int ranks) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = acc[i] / (acc_t) ranks;
}

#elif KB_STORAGE != 3

/* out := acc (divided by ranks when ranks > 0: avg) rounded once to the storage type.  Global size n. */
__kernel void reduce_round(__global elem_t* out, __global const acc_t* acc, int ranks) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc_t v = acc[i];
    if (ranks > 0) {
        v = v / (acc_t) ranks;
    }
    KB_STORE(out, i, v);
}

#endif
