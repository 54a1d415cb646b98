package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Environment variables read by the package.
const (
	// PathEnv names the environment variable with a colon-separated list
	// of folders searched, in order, for libcuda.so.1, cuBLAS and NVRTC
	// before the system loader's default search (ld.so.cache,
	// LD_LIBRARY_PATH). Set it where the libraries live outside the
	// default search, for example in a Python environment's
	// site-packages/nvidia/*/lib folders.
	PathEnv = "DEEPGO_CUDA_PATH"
	// DisableEnv names the environment variable that, when set to any
	// non-empty value, stops importing the package from registering the
	// CUDA devices (Open still works).
	DisableEnv = "DEEPGO_CUDA_DISABLE"
	// CacheEnv names the environment variable with the folder where
	// compiled kernels are cached between runs (default: deepgo/cuda under
	// os.UserCacheDir); "off" disables the disk cache.
	CacheEnv = "DEEPGO_CUDA_CACHE"
)

// library is a loaded shared library.
type library struct {
	name   string // the file name that was loaded, e.g. libcuda.so.1
	path   string // where it was found ("" for the system loader's search)
	handle uintptr
}

func (l *library) String() string {
	if l.path == "" {
		return l.name + " (found by the system loader)"
	}
	return l.path
}

// libSpec says how to find one library: its file names, best first, and
// what to tell the user when none loads.
type libSpec struct {
	what    string   // what the library is, for messages
	names   []string // file names, best first
	preload []string // glob patterns of companions to load first from the same folder
	install string   // how to get it
}

var (
	specDriver = libSpec{
		what:    "the NVIDIA driver's CUDA library",
		names:   []string{"libcuda.so.1", "libcuda.so"},
		install: "install the NVIDIA driver",
	}
	specBLAS = libSpec{
		what:    "cuBLAS",
		names:   []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"},
		preload: []string{"libcublasLt.so.*"},
		install: "install cuBLAS from the CUDA toolkit (or the nvidia-cublas wheel that PyTorch uses)",
	}
	specNVRTC = libSpec{
		what:    "NVRTC, the CUDA runtime compiler",
		names:   []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"},
		preload: []string{"libnvrtc-builtins.so.*"},
		install: "install NVRTC from the CUDA toolkit (or the nvidia-cuda-nvrtc wheel that PyTorch uses)",
	}
)

// searchPath is where libraries are looked for: folders first, then the
// system loader's default search when system is set.
type searchPath struct {
	dirs   []string
	system bool
}

// envSearchPath is the search path the package uses: the folders of
// DEEPGO_CUDA_PATH, then the system loader.
func envSearchPath() searchPath {
	return searchPath{dirs: splitPath(os.Getenv(PathEnv)), system: true}
}

// splitPath splits a colon-separated folder list, dropping empty entries.
func splitPath(s string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(s) {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// openLibrary loads the first of spec's names found on the search path.
func openLibrary(spec libSpec, sp searchPath) (*library, error) {
	if platformSupported != nil {
		return nil, platformSupported
	}
	var tried []string
	for _, dir := range sp.dirs {
		found := false
		for _, name := range spec.names {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			found = true
			for _, pat := range spec.preload {
				if ms, _ := filepath.Glob(filepath.Join(dir, pat)); len(ms) > 0 {
					_, _ = dlopen(ms[len(ms)-1]) // best effort: the library may not need it
				}
			}
			h, err := dlopen(p)
			if err == nil {
				return &library{name: name, path: p, handle: h}, nil
			}
			tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
		}
		if !found {
			tried = append(tried, fmt.Sprintf("%s (no %s there)", dir, strings.Join(spec.names, " or ")))
		}
	}
	if sp.system {
		for _, name := range spec.names {
			h, err := dlopen(name)
			if err == nil {
				return &library{name: name, handle: h}, nil
			}
			tried = append(tried, fmt.Sprintf("%s through the system loader (%v)", name, err))
		}
	}
	if len(tried) == 0 {
		tried = append(tried, "nothing: no folder is listed and the system search is off")
	}
	return nil, fmt.Errorf("cuda: cannot load %s (%s): tried %s. %s, or set %s to a colon-separated list of folders that hold %s (they are searched before the system loader's default search)",
		spec.names[0], spec.what, strings.Join(tried, "; "), upperFirst(spec.install), PathEnv, spec.names[0])
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// symbol is one function to bind: its exported name and where to store it.
type symbol struct {
	name string
	addr *uintptr
}

// bindSymbols resolves every symbol, or says which are missing.
func bindSymbols(lib *library, syms []symbol, tooOld string) error {
	var missing []string
	for _, s := range syms {
		a, err := dlsym(lib.handle, s.name)
		if err != nil || a == 0 {
			missing = append(missing, s.name)
			continue
		}
		*s.addr = a
	}
	if len(missing) > 0 {
		return fmt.Errorf("cuda: %s lacks %s: %s", lib, strings.Join(missing, ", "), tooOld)
	}
	return nil
}

// ccall calls the C function fn with integer and pointer arguments and
// returns its integer result.
//
//go:uintptrescapes
func ccall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// cstring copies a NUL-terminated C string.
func cstring(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; i < 1<<16; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// retPointer reinterprets a C function's pointer result.
func retPointer(r uintptr) *byte {
	return *(**byte)(unsafe.Pointer(&r))
}

// cbytes returns s as a NUL-terminated byte slice.
func cbytes(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// Error is a failed call into the CUDA driver, cuBLAS or NVRTC.
type Error struct {
	Call    string // the function that failed, e.g. "cuInit"
	Code    int    // its result code
	Name    string // the code's name, e.g. "CUDA_ERROR_NO_DEVICE", when the library knows it
	Message string // the library's description of the code
	Hint    string // what to do about it, when deepgo knows
}

// Error formats the failure: the call, the code and its name, the
// library's message and what to do.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cuda: %s failed: ", e.Call)
	if e.Name != "" {
		fmt.Fprintf(&b, "%s (%d)", e.Name, e.Code)
	} else {
		fmt.Fprintf(&b, "error %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// driverHints are the advice for driver error codes a user can act on.
var driverHints = map[int]string{
	2:   "the GPU is out of memory: reduce the batch size or free tensors (cuda.EmptyCache returns cached blocks)",
	3:   "the driver is not initialised",
	35:  "the installed NVIDIA driver is older than this CUDA runtime needs: update the driver",
	100: "no CUDA-capable GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES",
	101: "the device ordinal is out of range: check cuda.DeviceCount",
	209: "the kernel image has no code for this GPU",
	218: "the kernel PTX is invalid for this driver",
	222: "the driver is older than NVRTC: update the driver, or put an NVRTC that matches it first on " + PathEnv,
	304: "the driver could not start: check dmesg and nvidia-smi",
	999: "the driver reported an unknown error: check nvidia-smi",
}

// driver is the bound CUDA driver API.
type driver struct {
	lib     *library
	version int // e.g. 13000 for CUDA 13.0

	cuInit, cuDriverGetVersion, cuDeviceGetCount uintptr
	cuGetErrorName, cuGetErrorString             uintptr

	deviceOnce sync.Once
	deviceErr  error

	cuDeviceGet, cuDeviceGetAttribute, cuDeviceGetName, cuDeviceTotalMem uintptr
	cuDevicePrimaryCtxRetain, cuCtxSetCurrent                            uintptr
	cuStreamCreate, cuStreamSynchronize                                  uintptr
	cuMemAlloc, cuMemFree, cuMemGetInfo                                  uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync              uintptr
	cuMemsetD32Async                                                     uintptr
	cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel                uintptr

	eventsOnce sync.Once
	eventsErr  error

	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy uintptr
}

// openDriver loads libcuda.so.1, binds the calls needed to count devices
// and initialises the driver.
func openDriver(sp searchPath) (*driver, error) {
	lib, err := openLibrary(specDriver, sp)
	if err != nil {
		return nil, err
	}
	d := &driver{lib: lib}
	if err := bindSymbols(lib, []symbol{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuGetErrorName", &d.cuGetErrorName},
		{"cuGetErrorString", &d.cuGetErrorString},
	}, "it is not a CUDA driver library"); err != nil {
		return nil, err
	}
	if err := d.check("cuInit", ccall(d.cuInit, 0)); err != nil {
		return nil, fmt.Errorf("%w (driver library %s)", err, lib)
	}
	var v int32
	if err := d.check("cuDriverGetVersion", ccall(d.cuDriverGetVersion, uintptr(unsafe.Pointer(&v)))); err != nil {
		return nil, err
	}
	d.version = int(v)
	return d, nil
}

// versionString formats the driver's CUDA version, e.g. "13.0".
func (d *driver) versionString() string {
	return fmt.Sprintf("%d.%d", d.version/1000, d.version%1000/10)
}

// count returns the number of CUDA devices.
func (d *driver) count() (int, error) {
	var n int32
	if err := d.check("cuDeviceGetCount", ccall(d.cuDeviceGetCount, uintptr(unsafe.Pointer(&n)))); err != nil {
		return 0, err
	}
	return int(n), nil
}

// bindDevice binds the rest of the driver API, once.
func (d *driver) bindDevice() error {
	d.deviceOnce.Do(func() {
		d.deviceErr = bindSymbols(d.lib, []symbol{
			{"cuDeviceGet", &d.cuDeviceGet},
			{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
			{"cuDeviceGetName", &d.cuDeviceGetName},
			{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
			{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
			{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
			{"cuStreamCreate", &d.cuStreamCreate},
			{"cuStreamSynchronize", &d.cuStreamSynchronize},
			{"cuMemAlloc_v2", &d.cuMemAlloc},
			{"cuMemFree_v2", &d.cuMemFree},
			{"cuMemGetInfo_v2", &d.cuMemGetInfo},
			{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync},
			{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync},
			{"cuMemcpyDtoDAsync_v2", &d.cuMemcpyDtoDAsync},
			{"cuMemsetD32Async", &d.cuMemsetD32Async},
			{"cuModuleLoadData", &d.cuModuleLoadData},
			{"cuModuleGetFunction", &d.cuModuleGetFunction},
			{"cuLaunchKernel", &d.cuLaunchKernel},
		}, fmt.Sprintf("the driver (CUDA %s) is too old: deepgo needs a driver for CUDA 11.4 or newer", d.versionString()))
	})
	return d.deviceErr
}

// bindEvents binds the event calls the profiler uses, once.
func (d *driver) bindEvents() error {
	d.eventsOnce.Do(func() {
		d.eventsErr = bindSymbols(d.lib, []symbol{
			{"cuEventCreate", &d.cuEventCreate},
			{"cuEventRecord", &d.cuEventRecord},
			{"cuEventSynchronize", &d.cuEventSynchronize},
			{"cuEventElapsedTime", &d.cuEventElapsedTime},
			{"cuEventDestroy_v2", &d.cuEventDestroy},
		}, "its driver has no CUDA events, which the profiler needs")
	})
	return d.eventsErr
}

// check turns a CUresult into an error naming the call and the code.
func (d *driver) check(call string, r uintptr) error {
	code := int(int32(uint32(r)))
	if code == 0 {
		return nil
	}
	e := &Error{Call: call, Code: code, Hint: driverHints[code]}
	if d.cuGetErrorName != 0 {
		var p *byte
		if ccall(d.cuGetErrorName, uintptr(code), uintptr(unsafe.Pointer(&p))) == 0 {
			e.Name = cstring(p)
		}
	}
	if d.cuGetErrorString != 0 {
		var p *byte
		if ccall(d.cuGetErrorString, uintptr(code), uintptr(unsafe.Pointer(&p))) == 0 {
			e.Message = cstring(p)
		}
	}
	return e
}

// global is the driver as the environment configures it, loaded once.
var global struct {
	once  sync.Once
	drv   *driver
	count int
	err   error
}

func loadGlobal() {
	global.once.Do(func() {
		global.drv, global.err = openDriver(envSearchPath())
		if global.err != nil {
			return
		}
		global.count, global.err = global.drv.count()
	})
}

// noDeviceError is Available's answer when the driver works but reports no
// device.
func noDeviceError(d *driver) error {
	return fmt.Errorf("cuda: the NVIDIA driver (CUDA %s, %s) reports no CUDA device: check nvidia-smi and CUDA_VISIBLE_DEVICES", d.versionString(), d.lib)
}

// Available reports whether CUDA can be used: nil when libcuda.so.1 loads,
// the driver initialises and at least one device is present, and otherwise
// an error saying what is missing and what to do. The first call loads the
// driver (searching DEEPGO_CUDA_PATH, then the system loader); later calls
// return the same answer.
func Available() error {
	loadGlobal()
	if global.err != nil {
		return global.err
	}
	if global.count == 0 {
		return noDeviceError(global.drv)
	}
	return nil
}

// DeviceCount returns the number of CUDA devices the driver reports, or the
// error that kept the driver from loading.
func DeviceCount() (int, error) {
	loadGlobal()
	return global.count, global.err
}

// DriverVersion returns the CUDA version of the installed driver as major
// and minor numbers (13, 0 for a CUDA 13.0 driver).
func DriverVersion() (major, minor int, err error) {
	loadGlobal()
	if global.err != nil {
		return 0, 0, global.err
	}
	v := global.drv.version
	return v / 1000, v % 1000 / 10, nil
}

// errNotInitialised is what the methods of a device that failed to open
// panic with when it has no other error.
var errNotInitialised = errors.New("cuda: the device is not initialised")
