package autograd

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// The CPU device keeps a pool of released storage so that a steady training
// loop reuses its activations and gradients instead of asking Go's
// allocator for fresh, zeroed, page-faulting memory every step (a fresh
// 256 KiB slice costs about seven times as much as clearing a reused one;
// a 10 MB one about eight times).
//
// Storage enters the pool only when deepgo knows nobody else holds it:
// scratch buffers of a kernel as soon as the op is done with them, and the
// tensors a Scope collected when the Scope closes. Everything else is left
// to the garbage collector as before.

// poolMinElems is the smallest slice the pool keeps (16 KiB); smaller ones
// are cheap to get from Go's allocator.
const poolMinElems = 4096

// poolMaxAge is how many Scope closes a free slice may wait unused before
// the pool drops it, so memory held for shapes no longer in use returns to
// the garbage collector.
const poolMaxAge = 4

// defaultPoolLimit caps the bytes the pool holds.
const defaultPoolLimit = 1 << 30

type pooledSlice struct {
	data []float32
	gen  uint64
}

type cpuPool struct {
	mu    sync.Mutex
	free  map[int][]pooledSlice
	bytes int64
	limit int64
	gen   uint64
	stats PoolStats
}

var storagePool = cpuPool{free: map[int][]pooledSlice{}, limit: defaultPoolLimit}

// poisonUninit fills reused storage handed out without clearing with NaN,
// so that tests catch a kernel that does not overwrite its whole output.
var poisonUninit bool

// allocSeq numbers CPU allocations so that a Scope can tell the buffers
// made after it opened.
var allocSeq atomic.Uint64

// get returns n float32s, reusing a pooled slice of that length when
// there is one; zero clears a reused slice (fresh ones are always zero).
func (p *cpuPool) get(n int, zero bool) []float32 {
	if n < poolMinElems {
		return make([]float32, n)
	}
	p.mu.Lock()
	if l := p.free[n]; len(l) > 0 {
		d := l[len(l)-1].data
		l[len(l)-1] = pooledSlice{}
		p.free[n] = l[:len(l)-1]
		p.bytes -= int64(4 * n)
		p.stats.Hits++
		p.mu.Unlock()
		if zero {
			clear(d)
		} else if poisonUninit {
			for i := range d {
				d[i] = float32(math.NaN())
			}
		}
		return d
	}
	p.stats.Misses++
	p.stats.AllocatedBytes += int64(4 * n)
	p.mu.Unlock()
	return make([]float32, n)
}

// put takes back a slice nobody references any more.
func (p *cpuPool) put(d []float32) {
	n := len(d)
	if n < poolMinElems {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+int64(4*n) > p.limit {
		p.stats.Dropped++
		return
	}
	p.free[n] = append(p.free[n], pooledSlice{data: d[:n:n], gen: p.gen})
	p.bytes += int64(4 * n)
	p.stats.Returned++
}

// age advances the pool's generation and drops slices that have waited
// longer than poolMaxAge generations.
func (p *cpuPool) age() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	for n, l := range p.free {
		k := 0
		for _, s := range l {
			if s.gen+poolMaxAge > p.gen {
				l[k] = s
				k++
			} else {
				p.bytes -= int64(4 * n)
				p.stats.Dropped++
			}
		}
		clear(l[k:])
		if k == 0 {
			delete(p.free, n)
		} else {
			p.free[n] = l[:k]
		}
	}
}

// PoolStats describes the CPU device's storage pool since the program
// started (or since ResetPoolStats).
type PoolStats struct {
	// Hits counts allocations served from the pool; Misses those that went
	// to Go's allocator (only sizes the pool handles, 16 KiB and up).
	Hits, Misses int64
	// AllocatedBytes is the memory the misses asked Go's allocator for.
	AllocatedBytes int64
	// Returned counts slices handed back to the pool; Dropped those it let
	// go to the garbage collector (too old, or over the limit).
	Returned, Dropped int64
	// HeldBytes is the memory sitting in the pool now, ready for reuse.
	HeldBytes int64
}

// CPUPoolStats returns the CPU storage pool's counters.
func CPUPoolStats() PoolStats {
	storagePool.mu.Lock()
	defer storagePool.mu.Unlock()
	s := storagePool.stats
	s.HeldBytes = storagePool.bytes
	return s
}

// ResetPoolStats zeroes the pool's counters (not its contents).
func ResetPoolStats() {
	storagePool.mu.Lock()
	storagePool.stats = PoolStats{}
	storagePool.mu.Unlock()
}

// FreePool drops every slice the CPU storage pool holds, handing the memory
// back to the garbage collector.
func FreePool() {
	storagePool.mu.Lock()
	defer storagePool.mu.Unlock()
	for _, l := range storagePool.free {
		storagePool.stats.Dropped += int64(len(l))
	}
	storagePool.free = map[int][]pooledSlice{}
	storagePool.bytes = 0
}

// SetPoolLimit caps the memory the CPU storage pool may hold (default 1 GiB)
// and returns the previous cap. A cap of 0 turns reuse off.
func SetPoolLimit(bytes int64) int64 {
	storagePool.mu.Lock()
	prev := storagePool.limit
	storagePool.limit = max(bytes, 0)
	storagePool.mu.Unlock()
	if bytes <= 0 {
		FreePool()
	}
	return prev
}

// release hands a CPU buffer's storage back to the pool and marks the
// buffer dead, so that any later use panics instead of reading storage that
// now belongs to someone else. Buffers whose slice left deepgo (HostData,
// Wrap) or that were kept are never pooled.
func (b *cpuBuffer) release() {
	if b.flags&(bufReleased|bufKept) != 0 {
		return
	}
	d := b.data
	b.data = nil
	b.flags |= bufReleased
	if b.flags&bufEscaped == 0 {
		storagePool.put(d)
	}
}

// freeScratch returns scratch buffers an op allocated for itself (im2col
// columns and the like) as soon as it is done with them.
func freeScratch(bufs ...Buffer) {
	for _, b := range bufs {
		if cb, ok := b.(*cpuBuffer); ok && cb != nil {
			cb.release()
		}
	}
}

// Scope hands the storage of a training step's graph back for reuse when
// the step ends, so that the next step reuses the same memory instead of
// asking for fresh memory:
//
//	s := autograd.OpenScope()
//	loss := model.Forward(x).CrossEntropy(y)
//	s.Backward(loss) // loss.Backward(), noting the graph's storage
//	opt.Step()
//	lossValue := loss.Item() // read what you need before Close
//	s.Close()
//
// s.Backward collects the outputs of the recorded ops in loss's graph and
// the gradients Backward passes between them, when they were allocated
// after the Scope opened. It does not collect leaves, their gradients
// (Grad of parameters and of RetainGrad tensors), anything computed under
// NoGrad or from inputs that need no gradient (so optimizer state, running
// statistics and data batches are safe), tensors marked with Keep, or
// tensors outside the graph. Add collects a tensor explicitly (an
// inference output, say).
//
// After Close, a collected tensor is dead: reading it panics with a message
// that says so. (Storage under 16 KiB is not worth pooling and is left to
// the garbage collector, so small tensors stay readable; do not rely on
// it.) Keep the tensors you need past the step with Keep (for
// example the hidden state carried between truncated-backprop steps, which
// Detach shares with the graph), or copy what you need out before Close.
//
// A Scope belongs to the goroutine that runs the step; scopes of different
// goroutines, or nested ones, do not interfere. train.Trainer opens one
// around every step.
type Scope struct {
	start  uint64
	mu     sync.Mutex // guards bufs while Run collects
	bufs   []*cpuBuffer
	closed bool
}

// OpenScope opens a Scope.
func OpenScope() *Scope { return &Scope{start: allocSeq.Load()} }

// Backward runs t.Backward() and collects the storage of t's graph.
func (s *Scope) Backward(t *Tensor) {
	if t.Numel() != 1 {
		panic(fmt.Sprintf("autograd: Scope.Backward: tensor of shape %v is not a scalar; pass a seed gradient of the same shape with BackwardWith", t.shape))
	}
	s.BackwardWith(t, nil, false)
}

// BackwardWith runs t.BackwardWith(seed, retainGraph) and collects the
// storage of t's graph (with retainGraph, only the gradients: the graph's
// outputs stay alive for the next pass).
func (s *Scope) BackwardWith(t, seed *Tensor, retainGraph bool) {
	s.check("BackwardWith")
	backward(t, seed, retainGraph, s)
}

// Add collects t's storage (if it was allocated after the scope opened)
// and returns t.
func (s *Scope) Add(t *Tensor) *Tensor {
	s.check("Add")
	s.collect(t.buf)
	return t
}

func (s *Scope) check(op string) {
	if s.closed {
		panic("autograd: Scope." + op + ": the scope is closed; open a new one for each step")
	}
}

// Close releases the storage of every tensor the scope collected for
// reuse. Closing a scope twice does nothing.
func (s *Scope) Close() {
	if s.closed {
		return
	}
	s.closed = true
	for i, b := range s.bufs {
		b.flags &^= bufCollected
		b.release()
		s.bufs[i] = nil
	}
	s.bufs = nil
	storagePool.age()
}

// Run runs fn and collects every tensor storage that ops allocate while
// it runs (except tensors made from host data: New, Wrap, the data
// loader's batches), graph or not: the scope for an inference loop, whose
// forward passes run under NoGrad and build no graph for Backward to walk.
//
//	s := autograd.OpenScope()
//	s.Run(func() { logits = model.Forward(x) })
//	pred := logits.ArgMax(-1).Data() // before Close
//	s.Close()
//
// Like NoGrad, Run is process-wide: it collects what any goroutine
// allocates meanwhile, so use it where one goroutine runs the model (the
// tape's rule anyway). Runs nest; the innermost scope collects.
func (s *Scope) Run(fn func()) {
	s.check("Run")
	prev := runScope.Swap(s)
	defer runScope.Store(prev)
	fn()
}

// runScope is the scope of the innermost Scope.Run in progress.
var runScope atomic.Pointer[Scope]

// collectNew hands a freshly allocated buffer to the running Scope.Run.
func collectNew(cb *cpuBuffer) {
	if s := runScope.Load(); s != nil {
		s.mu.Lock()
		cb.flags |= bufCollected
		s.bufs = append(s.bufs, cb)
		s.mu.Unlock()
	}
}

// Len reports how many buffers the scope has collected so far.
func (s *Scope) Len() int { return len(s.bufs) }

// collect adds a CPU buffer to the scope if the scope should own it.
func (s *Scope) collect(b Buffer) {
	cb, ok := b.(*cpuBuffer)
	if !ok || cb == nil || cb.seq <= s.start || cb.flags&(bufKept|bufCollected|bufReleased) != 0 {
		return
	}
	cb.flags |= bufCollected
	s.bufs = append(s.bufs, cb)
}

// Keep marks t's storage never to be collected by a Scope and returns t.
func Keep(t *Tensor) *Tensor {
	if cb, ok := t.buf.(*cpuBuffer); ok {
		cb.flags |= bufKept
	}
	return t
}

// markShared notes that a second tensor views b's storage.
func markShared(b Buffer) {
	if cb, ok := b.(*cpuBuffer); ok {
		cb.flags |= bufShared
	}
}

// keepBuf is Keep for a gradient the engine stores in Grad.
func keepBuf(b Buffer) {
	if cb, ok := b.(*cpuBuffer); ok {
		cb.flags |= bufKept
	}
}

func releasedPanic() {
	panic("autograd: this tensor's storage was handed back for reuse when the autograd.Scope that collected it closed; " +
		"read the values you need before Close, or mark the tensor with autograd.Keep (or Clone it) while the scope is open")
}
