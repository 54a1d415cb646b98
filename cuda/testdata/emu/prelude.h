// prelude.h: compiles deepgo's CUDA C kernels as host C++ for the CUDA
// emulator used by the cuda package's tests (see README.md beside it).
// Each thread of a block is a ucontext fiber; __syncthreads switches back to
// the scheduler, which runs every thread of the block up to its next
// barrier, in a shuffled order, before any goes on. Blocks run one after
// the other. It checks the logic of the kernels (indexing, reductions,
// barriers), not their speed, and cannot see races between blocks.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <ucontext.h>
#include <utility>

struct dim3 {
	unsigned x, y, z;
};
static dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

static inline float __int_as_float(int i) {
	float f;
	memcpy(&f, &i, 4);
	return f;
}
static inline int __float_as_int(float f) {
	int i;
	memcpy(&i, &f, 4);
	return i;
}
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline float atomicAdd(float* p, float v) {
	float o = *p;
	*p = o + v;
	return o;
}

static const size_t emu_stack_size = 128 * 1024;
static ucontext_t emu_sched;
static ucontext_t* emu_fib;
static char* emu_stk;
static unsigned char* emu_done;
static unsigned* emu_order;
static unsigned emu_cap;
static unsigned emu_cur;
static int emu_direct;
static void (*emu_entry)(void**);
static void** emu_params;
static unsigned long long emu_rng = 88172645463325252ULL;

static void emu_set_thread(unsigned t) {
	emu_cur = t;
	threadIdx.x = t % blockDim.x;
	threadIdx.y = (t / blockDim.x) % blockDim.y;
	threadIdx.z = t / (blockDim.x * blockDim.y);
}

static inline void __syncthreads() {
	if (emu_direct) {
		fprintf(stderr, "cuda emulator: thread %u reached __syncthreads, but thread 0 of its block finished without one\n", emu_cur);
		abort();
	}
	swapcontext(&emu_fib[emu_cur], &emu_sched);
}

// Warp shuffles. The kernels that use them run a loop whose trip count is
// the same for every thread of the block, so every thread reaches each
// shuffle: here it is an exchange through one slot per thread between two
// block barriers (the first keeps a slot from being overwritten before the
// last read of the previous shuffle).
static double* emu_xchg;

template <typename T>
static inline T __shfl_xor_sync(unsigned mask, T v, int laneMask) {
	(void)mask;
	unsigned nt = blockDim.x * blockDim.y * blockDim.z;
	__syncthreads();
	emu_xchg[emu_cur] = (double)v;
	__syncthreads();
	unsigned src = (emu_cur & ~31u) | ((emu_cur & 31u) ^ (unsigned)laneMask);
	return src < nt ? (T)emu_xchg[src] : v;
}

static void emu_trampoline() {
	emu_entry(emu_params);
	emu_done[emu_cur] = 1;
}

static void emu_start(unsigned t) {
	getcontext(&emu_fib[t]);
	emu_fib[t].uc_stack.ss_sp = emu_stk + (size_t)t * emu_stack_size;
	emu_fib[t].uc_stack.ss_size = emu_stack_size;
	emu_fib[t].uc_link = &emu_sched;
	makecontext(&emu_fib[t], emu_trampoline, 0);
}

static void emu_resume(unsigned t) {
	emu_set_thread(t);
	swapcontext(&emu_sched, &emu_fib[t]);
}

static void emu_shuffle(unsigned n) {
	for (unsigned i = 0; i < n; i++) emu_order[i] = i;
	for (unsigned i = n; i > 1; i--) {
		emu_rng ^= emu_rng << 13;
		emu_rng ^= emu_rng >> 7;
		emu_rng ^= emu_rng << 17;
		unsigned j = (unsigned)(emu_rng % i);
		unsigned t = emu_order[i - 1];
		emu_order[i - 1] = emu_order[j];
		emu_order[j] = t;
	}
}

extern "C" void emu_run(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		void (*entry)(void**), void** params) {
	unsigned nt = bx * by * bz;
	if (nt > emu_cap) {
		free(emu_fib);
		free(emu_stk);
		free(emu_done);
		free(emu_order);
		emu_fib = (ucontext_t*)calloc(nt, sizeof(ucontext_t));
		emu_stk = (char*)malloc((size_t)nt * emu_stack_size);
		emu_done = (unsigned char*)malloc(nt);
		emu_order = (unsigned*)malloc(nt * sizeof(unsigned));
		free(emu_xchg);
		emu_xchg = (double*)malloc(nt * sizeof(double));
		emu_cap = nt;
	}
	gridDim.x = gx, gridDim.y = gy, gridDim.z = gz;
	blockDim.x = bx, blockDim.y = by, blockDim.z = bz;
	emu_entry = entry;
	emu_params = params;
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				blockIdx.x = x, blockIdx.y = y, blockIdx.z = z;
				memset(emu_done, 0, nt);
				emu_direct = 0;
				emu_start(0);
				emu_resume(0);
				if (emu_done[0]) {
					// No barrier in this block: run the other threads as calls.
					emu_direct = 1;
					emu_shuffle(nt);
					for (unsigned i = 0; i < nt; i++) {
						if (emu_order[i] == 0) continue;
						emu_set_thread(emu_order[i]);
						entry(params);
					}
					emu_direct = 0;
					continue;
				}
				for (unsigned t = 1; t < nt; t++) emu_start(t);
				emu_shuffle(nt);
				for (unsigned i = 0; i < nt; i++)
					if (emu_order[i] != 0) emu_resume(emu_order[i]);
				for (;;) {
					unsigned left = 0;
					for (unsigned t = 0; t < nt; t++) left += !emu_done[t];
					if (left == 0) break;
					emu_shuffle(nt);
					for (unsigned i = 0; i < nt; i++)
						if (!emu_done[emu_order[i]]) emu_resume(emu_order[i]);
				}
			}
}

template <typename... A, size_t... I>
static void emu_call(void (*k)(A...), void** p, std::index_sequence<I...>) {
	k(*(typename std::decay<A>::type*)p[I]...);
}

template <typename... A>
static void emu_invoke(void (*k)(A...), void** p) {
	emu_call(k, p, std::index_sequence_for<A...>{});
}

#define EMU_KERNEL(name) \
	extern "C" void emu_entry_##name(void** p) { emu_invoke(name, p); }
