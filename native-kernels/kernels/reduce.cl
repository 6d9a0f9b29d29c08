/*
 * reduce.cl — the element-wise steps of the reducing collectives (all-reduce, reduce-scatter).
 *
 * Layout. Flat arrays of F32 or F64; each kernel works on elements [0, n) of buffers that the host
 * has already narrowed to one rank's share (OpenCL sub-buffers), one work-item per element.
 *
 * Method. The host folds the ranks' inputs in rank order: acc = x0 ⊕ x1, then acc = acc ⊕ x2, …,
 * then (for avg) acc = acc / ranks. Every step is one IEEE operation per element with no
 * contraction, so the bits equal those of the CPU communicator for the same inputs: results agree
 * across ranks, runs, message sizes and devices. min and max follow Java's Math.min and Math.max
 * (NaN wins; −0 is below +0). A work-item reads its inputs before writing acc, so acc may be x0.
 *
 * Operators (argument op): 0 sum (also avg before the division), 1 product, 2 min, 3 max.
 * Tunables: none; the driver chooses the work-group size.
 * Set by the loader: KB_DOUBLE (0 or 1).
 */

KB_DEVICE_FN real kb_min(real a, real b) {
    if (a != a) {
        return a;
    }
    if (a == (real) 0 && b == (real) 0 && signbit(b)) {
        return b;
    }
    return a <= b ? a : b;
}

KB_DEVICE_FN real kb_max(real a, real b) {
    if (a != a) {
        return a;
    }
    if (a == (real) 0 && b == (real) 0 && signbit(a)) {
        return b;
    }
    return a >= b ? a : b;
}

KB_DEVICE_FN real kb_combine(int op, real a, real b) {
    switch (op) {
        case 1: return a * b;
        case 2: return kb_min(a, b);
        case 3: return kb_max(a, b);
        default: return a + b;
    }
}

/* acc := x0 ⊕ x1.  Global size n. */
__kernel void reduce_first(int op, __global real* acc, __global const real* x0, __global const real* x1) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = kb_combine(op, x0[i], x1[i]);
}

/* acc := acc ⊕ x.  Global size n. */
__kernel void reduce_next(int op, __global real* acc, __global const real* x) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = kb_combine(op, acc[i], x[i]);
}

/* acc := acc / ranks (avg).  Global size n. */
__kernel void reduce_divide(__global real* acc, int ranks) {
    if (!KB_IN_RANGE()) {
        return;
    }
    const ulong i = get_global_id(0);
    acc[i] = acc[i] / (real) ranks;
}
