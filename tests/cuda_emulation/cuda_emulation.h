// Just enough of CUDA to compile spgrad's .cu kernels as C++ and run a launch sequentially on
// the CPU (test-only). Exact for kernels without shared memory or block synchronisation: each
// thread of the grid runs to completion in turn, and atomics are plain additions.
#pragma once

struct emu_dim3 {
    unsigned x, y, z;
};

static thread_local emu_dim3 threadIdx = {0, 0, 0};
static thread_local emu_dim3 blockIdx = {0, 0, 0};
static thread_local emu_dim3 blockDim = {1, 1, 1};
static thread_local emu_dim3 gridDim = {1, 1, 1};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

template <typename T>
inline T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}

// Run `kernel` (a callable launching one thread) for every thread of a 1-D grid.
template <typename F>
void emu_launch(unsigned grid, unsigned block, F&& kernel) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; ++b) {
        for (unsigned t = 0; t < block; ++t) {
            blockIdx = {b, 0, 0};
            threadIdx = {t, 0, 0};
            kernel();
        }
    }
}
