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
  __device__ inline ulong kb_global_id(int d) {
      return d == 0 ? (ulong) blockIdx.x * blockDim.x + threadIdx.x
           : d == 1 ? (ulong) blockIdx.y * blockDim.y + threadIdx.y
                    : (ulong) blockIdx.z * blockDim.z + threadIdx.z;
  }
  __device__ inline ulong kb_local_id(int d) { return d == 0 ? threadIdx.x : d == 1 ? threadIdx.y : threadIdx.z; }
  #define get_global_id(d) kb_global_id(d)
  #define get_local_id(d) kb_local_id(d)
  #define barrier(flags) __syncthreads()
  #define KB_DEVICE_FN __device__ inline
#else
  #if KB_DOUBLE
    #pragma OPENCL EXTENSION cl_khr_fp64 : enable
  #endif
  #define KB_DEVICE_FN inline
#endif

/* The element type of this build. */
#if KB_DOUBLE
  #define KB_REAL double
#else
  #define KB_REAL float
#endif
typedef KB_REAL real;

#endif
