package cuda

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/deepgo/deepgo/autograd"
)

// GPU is one CUDA device: an autograd.Device whose buffers live in the
// GPU's memory and whose kernels run on it. Get one with Open or Device;
// there is one GPU value per device ordinal, so tensors moved with
// To(cuda.Device(0)) all share it.
//
// Every method runs with the device's primary context current on a locked
// OS thread, queues its work on the device's stream and returns without
// waiting, except the ones that read results on the host (ToHost, hence
// Tensor.Data) and Synchronize. A kernel's failure may so surface at a
// later call. The methods are safe to call from several goroutines; they
// run one at a time per device.
type GPU struct {
	ordinal int
	name    string
	drv     *driver
	sp      searchPath
	cache   *imageCache

	once    sync.Once
	initErr error

	mu         sync.Mutex
	nv         *nvrtcLib
	blas       *blasLib
	cuDev      uintptr
	ctx        uintptr
	stream     uintptr
	cc         int // compute capability, e.g. 90
	sms        int
	product    string
	totalMem   uint64
	alloc      *allocator
	funcs      map[string]uintptr
	blasHandle uintptr
	blasMode   uintptr

	args    argList
	scalars [4]uint64

	prof       *profiler // the profile in progress, if any
	profEvents []uintptr // events kept between profiles
}

// newGPU makes the (not yet initialised) device for an ordinal.
func newGPU(ordinal int, drv *driver, sp searchPath, cache *imageCache) *GPU {
	return &GPU{ordinal: ordinal, name: fmt.Sprintf("cuda:%d", ordinal), drv: drv, sp: sp, cache: cache}
}

var (
	registryMu sync.Mutex
	registry   = map[int]*GPU{}
	kernels    = &imageCache{mem: map[string][]byte{}, dir: defaultCacheDir()}
)

// gpuFor returns the device value for an ordinal, without initialising it.
func gpuFor(i int) (*GPU, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if i < 0 || i >= global.count {
		return nil, fmt.Errorf("cuda: there is no device %d: the driver reports %d (cuda:0 to cuda:%d); check CUDA_VISIBLE_DEVICES",
			i, global.count, global.count-1)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	g, ok := registry[i]
	if !ok {
		g = newGPU(i, global.drv, envSearchPath(), kernels)
		registry[i] = g
	}
	return g, nil
}

// Open returns CUDA device i (0 for the first GPU), initialised: its
// context, stream, cuBLAS handle and allocator are ready, and NVRTC is
// loaded. The error says what is missing: the driver, a device, cuBLAS or
// NVRTC. Opening the same device again returns the same value.
func Open(i int) (autograd.Device, error) {
	g, err := gpuFor(i)
	if err != nil {
		return nil, err
	}
	if err := g.init(); err != nil {
		return nil, err
	}
	return g, nil
}

// Device returns CUDA device i like Open, and panics with Open's error when
// it cannot be used. Use it where a missing GPU is a programming error, as
// in x.To(cuda.Device(0)); check Available or Open first otherwise.
func Device(i int) autograd.Device {
	d, err := Open(i)
	if err != nil {
		panic(err)
	}
	return d
}

// Importing the package registers one device per GPU the driver reports,
// named "cuda:0", "cuda:1", ..., unless DEEPGO_CUDA_DISABLE is set. A
// device's context is created on its first use.
func init() {
	if os.Getenv(DisableEnv) != "" {
		return
	}
	n, err := DeviceCount()
	if err != nil {
		return
	}
	for i := 0; i < n; i++ {
		if g, err := gpuFor(i); err == nil {
			autograd.RegisterDevice(g)
		}
	}
}

// init sets the device up once; later calls return the first answer.
func (g *GPU) init() error {
	g.once.Do(func() { g.initErr = g.setup() })
	return g.initErr
}

func (g *GPU) setup() error {
	d := g.drv
	if err := d.bindDevice(); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var dev int32
	if err := d.check("cuDeviceGet", ccall(d.cuDeviceGet, uintptr(unsafe.Pointer(&dev)), uintptr(g.ordinal))); err != nil {
		return err
	}
	g.cuDev = uintptr(dev)
	if err := d.check("cuDevicePrimaryCtxRetain", ccall(d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&g.ctx)), g.cuDev)); err != nil {
		return err
	}
	if err := d.check("cuCtxSetCurrent", ccall(d.cuCtxSetCurrent, g.ctx)); err != nil {
		return err
	}
	attr := func(a int) (int, error) {
		var v int32
		err := d.check("cuDeviceGetAttribute", ccall(d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), g.cuDev))
		return int(v), err
	}
	major, err := attr(75) // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	if err != nil {
		return err
	}
	minor, err := attr(76)
	if err != nil {
		return err
	}
	g.cc = major*10 + minor
	if g.sms, err = attr(16); err != nil { // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
		return err
	}
	g.sms = max(g.sms, 1)
	var name [256]byte
	if err := d.check("cuDeviceGetName", ccall(d.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), g.cuDev)); err != nil {
		return err
	}
	g.product = cstring(&name[0])
	var total uintptr
	if err := d.check("cuDeviceTotalMem_v2", ccall(d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&total)), g.cuDev)); err != nil {
		return err
	}
	g.totalMem = uint64(total)
	if err := d.check("cuStreamCreate", ccall(d.cuStreamCreate, uintptr(unsafe.Pointer(&g.stream)), 1)); err != nil { // CU_STREAM_NON_BLOCKING
		return err
	}
	if g.nv, err = openNVRTC(g.sp); err != nil {
		return err
	}
	if g.blas, err = openBLAS(g.sp); err != nil {
		return err
	}
	if err := g.blas.check("cublasCreate_v2", ccall(g.blas.create, uintptr(unsafe.Pointer(&g.blasHandle)))); err != nil {
		return err
	}
	if err := g.blas.check("cublasSetStream_v2", ccall(g.blas.setStream, g.blasHandle, g.stream)); err != nil {
		return err
	}
	g.blasMode = ^uintptr(0) // set on the first product
	gcEvery := min(max(uintptr(total)/8, 256<<20), 2<<30)
	g.alloc = newAllocator(g.driverAlloc, g.driverFree, gcEvery)
	g.funcs = map[string]uintptr{}
	return nil
}

func (g *GPU) driverAlloc(n uintptr) (uintptr, error) {
	var p uintptr
	if err := g.drv.check("cuMemAlloc_v2", ccall(g.drv.cuMemAlloc, uintptr(unsafe.Pointer(&p)), n)); err != nil {
		return 0, err
	}
	return p, nil
}

func (g *GPU) driverFree(p uintptr) error {
	return g.drv.check("cuMemFree_v2", ccall(g.drv.cuMemFree, p))
}

// enter makes the device usable from this goroutine: initialised, locked,
// on a locked OS thread with its context current. Pair with exit.
func (g *GPU) enter() {
	if err := g.init(); err != nil {
		panic(fmt.Errorf("%w (%s cannot be used)", err, g.name))
	}
	g.mu.Lock()
	runtime.LockOSThread()
	if r := ccall(g.drv.cuCtxSetCurrent, g.ctx); r != 0 {
		err := g.drv.check("cuCtxSetCurrent", r)
		g.exit()
		panic(err)
	}
}

func (g *GPU) exit() {
	runtime.UnlockOSThread()
	g.mu.Unlock()
}

// must panics with err, naming the device, when err is not nil: device
// failures inside kernels have no error result in autograd.Device.
func (g *GPU) must(err error) {
	if err != nil {
		panic(fmt.Errorf("%w (on %s)", err, g.name))
	}
}

// Name returns "cuda:N".
func (g *GPU) Name() string { return g.name }

// Product returns the GPU's name as the driver reports it, e.g.
// "NVIDIA H100 80GB HBM3" (empty before the device is initialised).
func (g *GPU) Product() string { return g.product }

// ComputeCapability returns the GPU's compute capability, e.g. 9, 0.
func (g *GPU) ComputeCapability() (major, minor int) { return g.cc / 10, g.cc % 10 }

// Synchronize waits until every kernel and copy queued on the device has
// finished, and returns the first error one of them hit.
func (g *GPU) Synchronize() error {
	if err := g.init(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := g.drv.check("cuCtxSetCurrent", ccall(g.drv.cuCtxSetCurrent, g.ctx)); err != nil {
		return err
	}
	return g.drv.check("cuStreamSynchronize", ccall(g.drv.cuStreamSynchronize, g.stream))
}

// EmptyCache waits for the device, then returns every cached free block to
// the driver (other processes can then use the memory).
func (g *GPU) EmptyCache() error {
	if err := g.Synchronize(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := g.drv.check("cuCtxSetCurrent", ccall(g.drv.cuCtxSetCurrent, g.ctx)); err != nil {
		return err
	}
	return g.alloc.release()
}

// MemStats returns the caching allocator's statistics.
func (g *GPU) MemStats() AllocStats {
	if g.init() != nil {
		return AllocStats{}
	}
	return g.alloc.snapshot()
}

// buffer is a block of device memory holding n float32s.
type buffer struct {
	g   *GPU
	ptr uintptr
	n   int
}

// Len returns the number of elements.
func (b *buffer) Len() int { return b.n }

// newBuffer allocates n elements, uninitialised; g must be entered.
func (g *GPU) newBuffer(n int) *buffer {
	b := &buffer{g: g, n: n}
	if n == 0 {
		return b
	}
	p, c, err := g.alloc.get(uintptr(n) * 4)
	g.must(err)
	b.ptr = p
	runtime.AddCleanup(b, block.give, block{a: g.alloc, ptr: p, class: c})
	return b
}

// ptr returns the device address of b (0 for nil), panicking on a buffer of
// another device.
func (g *GPU) ptr(b autograd.Buffer) uintptr {
	if b == nil {
		return 0
	}
	cb, ok := b.(*buffer)
	if !ok || cb.g != g {
		panic(fmt.Sprintf("cuda: a kernel of %s was given a buffer of another device (%T); move tensors with To first", g.name, b))
	}
	return cb.ptr
}

func floatBits(v float32) uint32 { return math.Float32bits(v) }

// Alloc returns n zeros on the device.
func (g *GPU) Alloc(n int) autograd.Buffer {
	g.enter()
	defer g.exit()
	b := g.newBuffer(n)
	if n > 0 {
		g.memset32(b.ptr, 0, n)
	}
	return b
}

// AllocUninit returns storage for n values without clearing it, for a
// result that the caller's kernel overwrites entirely (see
// autograd.UninitAllocator): it may hold what an earlier tensor left in
// the allocator's cache. With DEEPGO_CUDA_POISON set it is filled with NaN
// instead, so that a kernel that reads it before writing shows up in tests.
func (g *GPU) AllocUninit(n int) autograd.Buffer {
	g.enter()
	defer g.exit()
	b := g.newBuffer(n)
	if n > 0 && poisonUninit {
		g.memset32(b.ptr, 0x7fc00000, n)
	}
	return b
}

// PoisonEnv names the environment variable that makes AllocUninit fill
// new storage with NaN (any non-empty value): a debugging aid for kernels.
const PoisonEnv = "DEEPGO_CUDA_POISON"

var poisonUninit = os.Getenv(PoisonEnv) != ""

// FromHost copies src to a new device buffer. The copy is queued; src may
// be changed as soon as FromHost returns.
func (g *GPU) FromHost(src []float32) autograd.Buffer {
	g.enter()
	defer g.exit()
	b := g.newBuffer(len(src))
	if len(src) > 0 {
		g.copyHtoD(b.ptr, unsafe.Pointer(&src[0]), 4*len(src))
	}
	return b
}

// ToHost waits for the device's queued work, then copies b into dst. It is
// where asynchronous kernel failures surface.
func (g *GPU) ToHost(dst []float32, b autograd.Buffer) {
	g.enter()
	defer g.exit()
	p := g.ptr(b)
	if len(dst) > 0 {
		g.must(g.drv.check("cuMemcpyDtoHAsync_v2", ccall(g.drv.cuMemcpyDtoHAsync,
			uintptr(unsafe.Pointer(&dst[0])), p, uintptr(4*len(dst)), g.stream)))
	}
	g.must(g.drv.check("cuStreamSynchronize", ccall(g.drv.cuStreamSynchronize, g.stream)))
	runtime.KeepAlive(b)
}

// Fill sets every element of b to v.
func (g *GPU) Fill(b autograd.Buffer, v float32) {
	g.enter()
	defer g.exit()
	if n := b.Len(); n > 0 {
		g.memset32(g.ptr(b), floatBits(v), n)
	}
	runtime.KeepAlive(b)
}

// upload32 copies idx to the device as int32 and returns the block, which
// the caller hands back with g.alloc.put once the kernel reading it is
// queued.
func (g *GPU) upload32(idx []int) (ptr, class uintptr) {
	if len(idx) == 0 {
		return 0, 0
	}
	host := make([]int32, len(idx))
	for i, v := range idx {
		if v < math.MinInt32 || v > math.MaxInt32 {
			panic(fmt.Sprintf("cuda: index %d does not fit in int32", v))
		}
		host[i] = int32(v)
	}
	p, c, err := g.alloc.get(uintptr(4 * len(host)))
	g.must(err)
	g.copyHtoD(p, unsafe.Pointer(&host[0]), 4*len(host))
	return p, c
}

// scratch allocates n float32s for a kernel's temporary results; hand it
// back with g.alloc.put after the kernels reading it are queued.
func (g *GPU) scratch(n int) (ptr, class uintptr) {
	p, c, err := g.alloc.get(uintptr(4 * n))
	g.must(err)
	return p, c
}

// function returns the kernel, compiling and loading its module on first
// use.
func (g *GPU) function(m *kernelModule, name string) uintptr {
	if f, ok := g.funcs[name]; ok {
		return f
	}
	img, err := g.nv.moduleImage(g.cache, m, g.cc)
	g.must(err)
	var mod uintptr
	g.must(g.drv.check("cuModuleLoadData", ccall(g.drv.cuModuleLoadData, uintptr(unsafe.Pointer(&mod)), uintptr(unsafe.Pointer(&img[0])))))
	runtime.KeepAlive(img)
	for _, k := range m.kernels {
		ck := cbytes(k)
		var f uintptr
		g.must(g.drv.check("cuModuleGetFunction("+k+")", ccall(g.drv.cuModuleGetFunction, uintptr(unsafe.Pointer(&f)), mod, uintptr(unsafe.Pointer(&ck[0])))))
		g.funcs[k] = f
	}
	f, ok := g.funcs[name]
	if !ok {
		panic(fmt.Sprintf("cuda: kernel %s is not in module %s", name, m.name))
	}
	return f
}

// argWords is the capacity of an argList in 8-byte words.
const argWords = 1024

// argList builds the kernelParams array of a launch: each argument is
// stored in words and params points at it. The arrays live inside the GPU
// value, so their addresses stay fixed.
type argList struct {
	words  [argWords]uint64
	params [32]uintptr
	nw, np int
}

func (a *argList) reset() *argList {
	a.nw, a.np = 0, 0
	return a
}

func (a *argList) word(v uint64) *argList {
	a.words[a.nw] = v
	a.params[a.np] = uintptr(unsafe.Pointer(&a.words[a.nw]))
	a.nw++
	a.np++
	return a
}

// ptr adds a pointer argument.
func (a *argList) ptr(p uintptr) *argList { return a.word(uint64(p)) }

// i64 adds a long long argument.
func (a *argList) i64(v int) *argList { return a.word(uint64(int64(v))) }

// i32 adds an int argument.
func (a *argList) i32(v int) *argList { return a.word(uint64(uint32(int32(v)))) }

// f32 adds a float argument.
func (a *argList) f32(v float32) *argList { return a.word(uint64(math.Float32bits(v))) }

// geo adds a dg_geo struct argument.
func (a *argList) geo(gm *geo) *argList {
	const n = int(unsafe.Sizeof(geo{}) / 8)
	copy(a.words[a.nw:a.nw+n], (*[n]uint64)(unsafe.Pointer(gm))[:])
	a.params[a.np] = uintptr(unsafe.Pointer(&a.words[a.nw]))
	a.nw += n
	a.np++
	return a
}

// launch queues kernel name of module m on a 1-D grid.
func (g *GPU) launch(m *kernelModule, name string, grid, block int, a *argList) {
	f := g.function(m, name)
	t := g.profBegin()
	r := ccall(g.drv.cuLaunchKernel, f, uintptr(grid), 1, 1, uintptr(block), 1, 1, 0, g.stream,
		uintptr(unsafe.Pointer(&a.params[0])), 0)
	if r != 0 {
		g.must(g.drv.check("cuLaunchKernel("+name+")", r))
	}
	g.profEnd(name, t)
}

// memset32 queues setting n 32-bit words at p to the bits v.
func (g *GPU) memset32(p uintptr, v uint32, n int) {
	t := g.profBegin()
	g.must(g.drv.check("cuMemsetD32Async", ccall(g.drv.cuMemsetD32Async, p, uintptr(v), uintptr(n), g.stream)))
	g.profEnd("cuMemsetD32Async", t)
}

// copyDtoD queues a copy of n bytes from src to dst on the device.
func (g *GPU) copyDtoD(dst, src uintptr, n int) {
	t := g.profBegin()
	g.must(g.drv.check("cuMemcpyDtoDAsync_v2", ccall(g.drv.cuMemcpyDtoDAsync, dst, src, uintptr(n), g.stream)))
	g.profEnd("cuMemcpyDtoDAsync", t)
}

// copyHtoD queues a copy of n bytes from host memory at src to dst.
func (g *GPU) copyHtoD(dst uintptr, src unsafe.Pointer, n int) {
	t := g.profBegin()
	g.must(g.drv.check("cuMemcpyHtoDAsync_v2", ccall(g.drv.cuMemcpyHtoDAsync, dst, uintptr(src), uintptr(n), g.stream)))
	g.profEnd("cuMemcpyHtoDAsync", t)
}

// maxGrid is the most blocks a grid-stride kernel is given: enough to
// fill every SM several times over.
func (g *GPU) maxGrid() int { return 8 * g.sms }

// grid1d returns the number of 256-thread blocks for n elements.
func (g *GPU) grid1d(n int) int {
	return max(1, min((n+dgMaxBlock-1)/dgMaxBlock, g.maxGrid()))
}

// rowBlock returns the block size for a kernel that reduces rows of n
// elements with one block per row: a power of two from 32 to 256.
func rowBlock(n int) int {
	b := 32
	for b < dgMaxBlock && b < n {
		b <<= 1
	}
	return b
}

// rowGrid returns the number of blocks for rows rows, one block per row up
// to a limit (the kernels loop over the rest).
func (g *GPU) rowGrid(rows int) int { return max(1, min(rows, 32*g.sms)) }

// warpPer returns how many elements per lane the one-warp-per-row form of
// a row kernel holds for rows of n elements (8 or 32), or 0 when the rows
// are too long for it (over 1024) and the one-block-per-row form runs.
func warpPer(n int) int {
	switch {
	case n <= 8*32:
		return 8
	case n <= 32*32:
		return 32
	}
	return 0
}

// warpGrid returns the number of 256-thread blocks (8 rows each) for a
// one-warp-per-row kernel over rows rows.
func (g *GPU) warpGrid(rows int) int {
	return max(1, min((rows+dgMaxBlock/32-1)/(dgMaxBlock/32), 32*g.sms))
}

// pick returns a when c holds and b otherwise.
func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}
