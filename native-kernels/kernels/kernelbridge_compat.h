/*
 * kernelbridge_compat.h — lets one kernel text compile as OpenCL C and as CUDA.
 *
 * The kernels are written in OpenCL C. This header is prepended to every kernel file: under OpenCL
 * it only adds the helpers below; under nvcc (__CUDACC__) it maps the OpenCL qualifiers and
 * work-item functions onto CUDA ones. Vector widths other than 1 are OpenCL-only (CUDA has no
 * 8- or 16-wide types), so a CUDA build sets KB_VW to 1.
 *
 * Defines expected from the loader:  KB_DOUBLE (0: F32, 1: F64) and the tunables of each file.
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
#else
  #if KB_DOUBLE
    #pragma OPENCL EXTENSION cl_khr_fp64 : enable
  #endif
  #define KB_DEVICE_FN inline
  #define KB_IN_RANGE() 1
#endif

/* The element type of this build. */
#if KB_DOUBLE
  #define KB_REAL double
#else
  #define KB_REAL float
#endif
typedef KB_REAL real;

#endif
