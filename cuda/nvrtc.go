package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"unsafe"
)

// nvrtcLib is the bound NVRTC library.
type nvrtcLib struct {
	lib          *library
	major, minor int

	create, compile, destroy, errString  uintptr
	logSize, log, ptxSize, ptx           uintptr
	cubinSize, cubin                     uintptr // 0 before NVRTC 11.1
	numSupportedArchs, supportedArchsFun uintptr // 0 before NVRTC 11.2
}

func openNVRTC(sp searchPath) (*nvrtcLib, error) {
	lib, err := openLibrary(specNVRTC, sp)
	if err != nil {
		return nil, err
	}
	n := &nvrtcLib{lib: lib}
	var version uintptr
	if err := bindSymbols(lib, []symbol{
		{"nvrtcVersion", &version},
		{"nvrtcCreateProgram", &n.create},
		{"nvrtcCompileProgram", &n.compile},
		{"nvrtcDestroyProgram", &n.destroy},
		{"nvrtcGetErrorString", &n.errString},
		{"nvrtcGetProgramLogSize", &n.logSize},
		{"nvrtcGetProgramLog", &n.log},
		{"nvrtcGetPTXSize", &n.ptxSize},
		{"nvrtcGetPTX", &n.ptx},
	}, "it is not NVRTC"); err != nil {
		return nil, err
	}
	// Optional: CUBIN output (11.1) and the list of supported targets (11.2).
	n.cubinSize, _ = dlsym(lib.handle, "nvrtcGetCUBINSize")
	n.cubin, _ = dlsym(lib.handle, "nvrtcGetCUBIN")
	n.numSupportedArchs, _ = dlsym(lib.handle, "nvrtcGetNumSupportedArchs")
	n.supportedArchsFun, _ = dlsym(lib.handle, "nvrtcGetSupportedArchs")
	var ma, mi int32
	if err := n.check("nvrtcVersion", ccall(version, uintptr(unsafe.Pointer(&ma)), uintptr(unsafe.Pointer(&mi)))); err != nil {
		return nil, err
	}
	n.major, n.minor = int(ma), int(mi)
	return n, nil
}

func (n *nvrtcLib) check(call string, r uintptr) error {
	code := int(int32(uint32(r)))
	if code == 0 {
		return nil
	}
	e := &Error{Call: call, Code: code}
	if n.errString != 0 {
		e.Name = cstring(retPointer(ccall(n.errString, uintptr(code))))
	}
	return e
}

// supportedArchs returns the compute capabilities (e.g. 90 for sm_90) this
// NVRTC compiles for, sorted, or nil when it cannot say.
func (n *nvrtcLib) supportedArchs() []int {
	if n.numSupportedArchs == 0 || n.supportedArchsFun == 0 {
		return nil
	}
	var cnt int32
	if ccall(n.numSupportedArchs, uintptr(unsafe.Pointer(&cnt))) != 0 || cnt <= 0 || cnt > 1024 {
		return nil
	}
	archs := make([]int32, cnt)
	if ccall(n.supportedArchsFun, uintptr(unsafe.Pointer(&archs[0]))) != 0 {
		return nil
	}
	out := make([]int, len(archs))
	for i, a := range archs {
		out[i] = int(a)
	}
	sort.Ints(out)
	return out
}

// target picks what to compile for a GPU of compute capability cc (see
// pickTarget).
func (n *nvrtcLib) target(cc int) (option string, cubin bool, err error) {
	opt, cub, ok := pickTarget(cc, n.supportedArchs(), n.cubin != 0)
	if !ok {
		return "", false, fmt.Errorf("cuda: NVRTC %d.%d (%s) compiles for %v but not for this GPU (sm_%d) or any older one: use an NVRTC that supports it (put its folder on %s)",
			n.major, n.minor, n.lib, n.supportedArchs(), cc, PathEnv)
	}
	return opt, cub, nil
}

// pickTarget chooses the compile target for compute capability cc, given
// the architectures NVRTC supports (nil when it cannot say) and whether it
// can emit CUBIN: a CUBIN for sm_cc when NVRTC knows the architecture, else
// PTX for the newest virtual architecture it knows that is not newer than
// cc (the driver compiles that PTX for the GPU).
func pickTarget(cc int, archs []int, canCubin bool) (option string, cubin, ok bool) {
	known := archs == nil
	best := 0
	for _, a := range archs {
		if a == cc {
			known = true
		}
		if a <= cc && a > best {
			best = a
		}
	}
	switch {
	case known && canCubin:
		return fmt.Sprintf("--gpu-architecture=sm_%d", cc), true, true
	case known:
		return fmt.Sprintf("--gpu-architecture=compute_%d", cc), false, true
	case best > 0:
		return fmt.Sprintf("--gpu-architecture=compute_%d", best), false, true
	}
	return "", false, false
}

// compileSource compiles one module for the given options and returns the
// image cuModuleLoadData takes (CUBIN, or NUL-terminated PTX).
func (n *nvrtcLib) compileSource(name, src string, options []string, cubin bool) ([]byte, error) {
	csrc, cname := cbytes(src), cbytes(name+".cu")
	var prog uintptr
	if err := n.check("nvrtcCreateProgram", ccall(n.create, uintptr(unsafe.Pointer(&prog)),
		uintptr(unsafe.Pointer(&csrc[0])), uintptr(unsafe.Pointer(&cname[0])), 0, 0, 0)); err != nil {
		return nil, err
	}
	defer ccall(n.destroy, uintptr(unsafe.Pointer(&prog)))

	opts := make([][]byte, len(options))
	ptrs := make([]uintptr, len(options)+1)
	for i, o := range options {
		opts[i] = cbytes(o)
		ptrs[i] = uintptr(unsafe.Pointer(&opts[i][0]))
	}
	r := ccall(n.compile, prog, uintptr(len(options)), uintptr(unsafe.Pointer(&ptrs[0])))
	runtime.KeepAlive(opts)
	if err := n.check("nvrtcCompileProgram", r); err != nil {
		return nil, fmt.Errorf("%w: kernel module %q did not compile with %v; this is a bug in deepgo, please report it with this log:\n%s",
			err, name, options, n.programLog(prog))
	}
	sizeFn, getFn, what := n.ptxSize, n.ptx, "nvrtcGetPTX"
	if cubin {
		sizeFn, getFn, what = n.cubinSize, n.cubin, "nvrtcGetCUBIN"
	}
	var size uintptr
	if err := n.check(what+"Size", ccall(sizeFn, prog, uintptr(unsafe.Pointer(&size)))); err != nil {
		return nil, err
	}
	if size == 0 || size > 1<<30 {
		return nil, fmt.Errorf("cuda: %sSize returned %d bytes for kernel module %q", what, size, name)
	}
	img := make([]byte, size)
	if err := n.check(what, ccall(getFn, prog, uintptr(unsafe.Pointer(&img[0])))); err != nil {
		return nil, err
	}
	return img, nil
}

func (n *nvrtcLib) programLog(prog uintptr) string {
	var size uintptr
	if ccall(n.logSize, prog, uintptr(unsafe.Pointer(&size))) != 0 || size == 0 || size > 1<<24 {
		return "(no log)"
	}
	b := make([]byte, size)
	if ccall(n.log, prog, uintptr(unsafe.Pointer(&b[0]))) != 0 {
		return "(no log)"
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}

// imageCache keeps compiled modules in memory for the process and, when a
// folder is set, on disk between runs. Keys hash the NVRTC version, the
// options and the source, so a changed kernel or a new NVRTC recompiles.
type imageCache struct {
	mu  sync.Mutex
	mem map[string][]byte
	dir string // "" for no disk cache
}

// defaultCacheDir resolves DEEPGO_CUDA_CACHE.
func defaultCacheDir() string {
	switch v := os.Getenv(CacheEnv); v {
	case "off":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "deepgo", "cuda")
	default:
		return v
	}
}

func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *imageCache) get(key string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img, ok := c.mem[key]; ok {
		return img
	}
	if c.dir == "" {
		return nil
	}
	img, err := os.ReadFile(filepath.Join(c.dir, key+".bin"))
	if err != nil || len(img) == 0 {
		return nil
	}
	c.mem[key] = img
	return img
}

func (c *imageCache) put(key string, img []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mem[key] = img
	if c.dir == "" {
		return
	}
	// Best effort: a cache that cannot be written only costs compile time.
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(c.dir, key+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(img)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if os.Rename(f.Name(), filepath.Join(c.dir, key+".bin")) != nil {
		os.Remove(f.Name())
	}
}

// moduleImage returns the compiled image of m for a GPU of compute
// capability cc, compiling it on first use.
func (n *nvrtcLib) moduleImage(cache *imageCache, m *kernelModule, cc int) ([]byte, error) {
	opt, cubin, err := n.target(cc)
	if err != nil {
		return nil, err
	}
	options := []string{opt, "--std=c++14"}
	src := m.fullSource()
	key := cacheKey(fmt.Sprintf("nvrtc %d.%d", n.major, n.minor), fmt.Sprint(options, cubin), m.name, src)
	if img := cache.get(key); img != nil {
		return img, nil
	}
	img, err := n.compileSource("deepgo_"+m.name, src, options, cubin)
	if err != nil {
		return nil, err
	}
	cache.put(key, img)
	return img, nil
}
