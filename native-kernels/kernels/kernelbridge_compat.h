/*
 * kernelbridge_compat.h — lets one kernel text compile as OpenCL C and as CUDA.
 *
 * The kernels are written in OpenCL C. This header is prepended to every kernel file: under OpenCL
 * it only adds the helpers below; under nvcc (__CUDACC__) it maps the OpenCL qualifiers and
 * work-item functions onto CUDA ones. Vector widths other than 1 are OpenCL-only (CUDA has no
 * 8- or 16-wide types), so a CUDA build sets KB_VW to 1.
 *
 * Defines expected from the loader:  KB_DOUBLE (0: F32, 1: F64) and the tunables of each file.
 *
 * Narrow storage types (below the element type): F16 through the core vload_half/vstore_half_rte
 * (no cl_khr_fp16 needed: PoCL 3.1's CPU device lacks it) and BF16 as ushort bits, with the same
 * helpers under CUDA, so a kernel reads and writes them identically on both.
 */
#ifndef KERNELBRIDGE_COMPAT_H
#define KERNELBRIDGE_COMPAT_H

#ifdef __CUDACC__
  #define __kernel extern "C" __global__
  #define __global
  #define __local __shared__
  #define __constant const
  #define __private
  #define restrict __restrict__
  #define ulong unsigned long long
  #define uint unsigned int
  #define ushort unsigned short
  /* The OpenCL NDRange of a launch, written by the host before each launch (symbol kb_ndrange, one per
     module). CUDA caps grid y and z at 65535 while OpenCL ranges here reach k and batch counts far
     beyond, so every range runs as a 1-D grid (x fastest) and the ids are recovered from it. A block
     is one OpenCL work-group: the host only gives a local size along x that divides size[0]. */
  struct kb_ndrange_t { ulong size[3]; };
  __constant__ kb_ndrange_t kb_ndrange;
  __device__ inline ulong kb_linear_id() { return (ulong) blockIdx.x * blockDim.x + threadIdx.x; }
  __device__ inline ulong kb_global_id(int d) {
      const ulong l = kb_linear_id();
      return d == 0 ? l % kb_ndrange.size[0]
           : d == 1 ? (l / kb_ndrange.size[0]) % kb_ndrange.size[1]
                    : l / (kb_ndrange.size[0] * kb_ndrange.size[1]);
  }
  __device__ inline ulong kb_local_id(int d) { return d == 0 ? threadIdx.x : 0; }
  #define get_global_id(d) kb_global_id(d)
  #define get_local_id(d) kb_local_id(d)
  /* The last block may reach past the range; whole blocks only, so never between barriers. */
  #define KB_IN_RANGE() (kb_linear_id() < kb_ndrange.size[0] * kb_ndrange.size[1] * kb_ndrange.size[2])
  #define barrier(flags) __syncthreads()
  #define KB_DEVICE_FN __device__ inline
  /* A pointer parameter into work-group memory: CUDA's generic pointers need no qualifier. */
  #define KB_LOCAL
#else
  #if KB_DOUBLE
    #pragma OPENCL EXTENSION cl_khr_fp64 : enable
  #endif
  #define KB_DEVICE_FN inline
  #define KB_LOCAL __local
  #define KB_IN_RANGE() 1
#endif

/* The element type of this build. */
#if KB_DOUBLE
  #define KB_REAL double
#else
  #define KB_REAL float
#endif
typedef KB_REAL real;

/* Narrow storage types: kb_half_t holds IEEE binary16 (only through kb_half_load/kb_half_store),
   kb_i8_t signed 8-bit integers (plain char is unsigned on some CUDA hosts). */
#ifdef __CUDACC__
  typedef unsigned short kb_half_t;
  typedef signed char kb_i8_t;
  /* The PTX conversions cuda_fp16.h wraps, inline so NVRTC needs no extra headers. cvt.rn rounds to
     nearest even, keeps subnormals and overflows to Inf, as vstore_half_rte does. */
  __device__ inline float kb_half_load(ulong i, const kb_half_t* p) {
      float f;
      asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
      return f;
  }
  __device__ inline void kb_half_store(float x, ulong i, kb_half_t* p) {
      unsigned short h;
      asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
      p[i] = h;
  }
  #define kb_as_float(bits) __uint_as_float(bits)
  #define kb_as_uint(x) __float_as_uint(x)
#else
  typedef half kb_half_t;
  typedef char kb_i8_t;
  #define kb_half_load(i, p) vload_half(i, p)
  #define kb_half_store(x, i, p) vstore_half_rte(x, i, p)
  #define kb_as_float(bits) as_float(bits)
  #define kb_as_uint(x) as_uint(x)
#endif

/* bfloat16 bits → float: exact. */
KB_DEVICE_FN float kb_bf16_to_float(ushort b) {
    return kb_as_float((uint) b << 16);
}

/* float → bfloat16 bits, exactly as NarrowFloat.toBf16: round to nearest, ties to even; NaN keeps
   its sign and top payload bits and is made quiet (truncation alone could turn it into Inf);
   overflow rounds to Inf; subnormals are kept (integer arithmetic, no flush). */
KB_DEVICE_FN ushort kb_float_to_bf16(float x) {
    const uint bits = kb_as_uint(x);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return (ushort) ((bits >> 16) | 0x0040u);
    }
    return (ushort) ((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#endif
