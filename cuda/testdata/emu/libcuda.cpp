// libcuda.cpp: a CUDA driver for the cuda package's tests that runs on the
// host. Device memory is host memory; modules are shared objects built by
// the emulated NVRTC (libnvrtc.cpp) and launched through prelude.h's
// emu_run. Only the calls deepgo makes exist.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <ctime>

typedef int CUresult;
typedef uint64_t CUdeviceptr;

struct EmuModule {
	void* handle;
};
struct EmuFunction {
	void (*run)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void (*)(void**), void**);
	void (*entry)(void**);
};

static const char* err_name(CUresult e) {
	switch (e) {
	case 0: return "CUDA_SUCCESS";
	case 1: return "CUDA_ERROR_INVALID_VALUE";
	case 2: return "CUDA_ERROR_OUT_OF_MEMORY";
	case 100: return "CUDA_ERROR_NO_DEVICE";
	case 101: return "CUDA_ERROR_INVALID_DEVICE";
	case 200: return "CUDA_ERROR_INVALID_IMAGE";
	case 201: return "CUDA_ERROR_INVALID_CONTEXT";
	case 500: return "CUDA_ERROR_NOT_FOUND";
	case 701: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
	}
	return 0;
}

static size_t emu_in_use;
static const size_t emu_total = (size_t)1 << 32;

extern "C" {

CUresult cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }
CUresult cuDriverGetVersion(int* v) {
	*v = 13000;
	return 0;
}
CUresult cuDeviceGetCount(int* n) {
	*n = 1;
	return 0;
}
CUresult cuGetErrorName(CUresult e, const char** s) {
	*s = err_name(e);
	return *s ? 0 : 1;
}
CUresult cuGetErrorString(CUresult e, const char** s) {
	*s = err_name(e) ? "emulated error" : 0;
	return *s ? 0 : 1;
}
CUresult cuDeviceGet(int* d, int ordinal) {
	if (ordinal != 0) return 101;
	*d = 0;
	return 0;
}
CUresult cuDeviceGetAttribute(int* v, int attr, int dev) {
	if (dev != 0) return 101;
	switch (attr) {
	case 75: *v = 8; break;  // compute capability 8.0
	case 76: *v = 0; break;
	case 16: *v = 2; break;  // SMs: small grids keep the emulator fast
	default: *v = 0;
	}
	return 0;
}
CUresult cuDeviceGetName(char* name, int len, int dev) {
	snprintf(name, len, "deepgo CUDA emulator");
	return 0;
}
CUresult cuDeviceTotalMem_v2(size_t* b, int dev) {
	*b = emu_total;
	return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) {
	*ctx = (void*)0x1;
	return 0;
}
CUresult cuCtxSetCurrent(void* ctx) { return ctx == (void*)0x1 ? 0 : 201; }
CUresult cuStreamCreate(void** s, unsigned flags) {
	*s = (void*)0x2;
	return 0;
}
CUresult cuStreamSynchronize(void* s) { return s == (void*)0x2 ? 0 : 1; }
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
	if (n == 0) return 1;
	if (emu_in_use + n > emu_total) return 2;
	size_t r = (n + 255) / 256 * 256;
	void* m = aligned_alloc(256, r + 256);
	if (!m) return 2;
	memset(m, 0xff, r + 256);  // NaN: reads of unwritten memory show up
	*(size_t*)m = r;
	emu_in_use += r;
	*p = (CUdeviceptr)((char*)m + 256);
	return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
	if (!p) return 1;
	char* m = (char*)p - 256;
	emu_in_use -= *(size_t*)m;
	free(m);
	return 0;
}
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) {
	*f = emu_total - emu_in_use;
	*t = emu_total;
	return 0;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void* s) {
	memcpy((void*)dst, src, n);
	return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void* s) {
	memcpy(dst, (const void*)src, n);
	return 0;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void* s) {
	memmove((void*)dst, (const void*)src, n);
	return 0;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void* s) {
	unsigned* d = (unsigned*)dst;
	for (size_t i = 0; i < n; i++) d[i] = v;
	return 0;
}
CUresult cuModuleLoadData(EmuModule** mod, const void* image) {
	const char* img = (const char*)image;
	if (strncmp(img, "EMU:", 4) != 0) return 200;
	void* h = dlopen(img + 4, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "cuda emulator: %s\n", dlerror());
		return 200;
	}
	*mod = new EmuModule{h};
	return 0;
}
CUresult cuModuleGetFunction(EmuFunction** f, EmuModule* mod, const char* name) {
	std::string entry = std::string("emu_entry_") + name;
	void* e = dlsym(mod->handle, entry.c_str());
	void* r = dlsym(mod->handle, "emu_run");
	if (!e || !r) return 500;
	*f = new EmuFunction{(decltype(EmuFunction::run))r, (void (*)(void**))e};
	return 0;
}
CUresult cuLaunchKernel(EmuFunction* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned shmem, void* stream, void** params, void** extra) {
	if (!f || gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || gx > 0x7fffffffu || gy > 65535 || gz > 65535) return 1;
	if ((unsigned long long)bx * by * bz > 1024) return 701;
	if (stream != (void*)0x2 || extra != 0) return 1;
	f->run(gx, gy, gz, bx, by, bz, f->entry, params);
	return 0;
}

// Events: kernels run synchronously here, so an event's time is the host
// clock when it is recorded.
struct EmuEvent {
	double ms;
};
CUresult cuEventCreate(EmuEvent** e, unsigned flags) {
	if (!e) return 1;
	*e = new EmuEvent{0};
	return 0;
}
CUresult cuEventRecord(EmuEvent* e, void* stream) {
	if (!e || stream != (void*)0x2) return 1;
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e->ms = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
	return 0;
}
CUresult cuEventSynchronize(EmuEvent* e) { return e ? 0 : 1; }
CUresult cuEventElapsedTime(float* ms, EmuEvent* start, EmuEvent* end) {
	if (!ms || !start || !end) return 1;
	*ms = (float)(end->ms - start->ms);
	return 0;
}
CUresult cuEventDestroy_v2(EmuEvent* e) {
	delete e;
	return 0;
}

}  // extern "C"
