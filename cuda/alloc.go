package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// The caching allocator keeps freed device blocks in free lists by size
// class, so that a steady training loop, which allocates the same shapes
// every step, stops calling cuMemAlloc after its first steps.
//
// Blocks come back when the garbage collector finds a buffer unreachable
// (runtime.AddCleanup). The collector knows nothing of device memory, so
// the allocator asks for a collection itself: when a request misses the
// free lists after more than gcEvery bytes were handed out since the last
// collection, and again, after emptying the free lists, when the driver
// reports the device full.
//
// A block goes back on its free list at once, while kernels queued before
// may still use it: every kernel and copy of a device runs on its one
// stream, in order, so whatever the block is handed out for next runs
// after them.

// Size classes: requests are rounded up to a multiple of 512 bytes up to
// 4 KiB, and above that to one of four steps per power of two (2^k, 1.25,
// 1.5, 1.75 × 2^k), which wastes at most a fifth of a block.
const (
	minBlock  = 512
	smallStep = 4096
)

// sizeClass returns the block size a request of n bytes gets.
func sizeClass(n uintptr) uintptr {
	if n <= smallStep {
		if n == 0 {
			return minBlock
		}
		return (n + minBlock - 1) / minBlock * minBlock
	}
	// Highest power of two ≤ n, then quarter steps above it.
	p := uintptr(1)
	for p<<1 <= n {
		p <<= 1
	}
	q := p / 4
	return (n + q - 1) / q * q
}

// AllocStats counts the work of a device's caching allocator.
type AllocStats struct {
	Hits, Misses  int64 // requests served from the free lists, and from the driver
	DriverAllocs  int64 // cuMemAlloc calls that succeeded
	DriverFrees   int64 // cuMemFree calls
	Collections   int64 // garbage collections the allocator asked for
	InUseBytes    int64 // bytes in blocks handed out and not yet returned
	CachedBytes   int64 // bytes in blocks on the free lists
	PeakBytes     int64 // the most InUseBytes+CachedBytes has been
	OutOfMemories int64 // requests that failed even after emptying the cache
}

// allocator is a caching allocator over a driver's allocate and free calls.
type allocator struct {
	mu     sync.Mutex
	malloc func(n uintptr) (uintptr, error)
	free   func(p uintptr) error
	gc     func() // runs a collection and gives cleanups a chance to run

	lists       map[uintptr][]uintptr // size class → free blocks
	gcEvery     uintptr               // bytes handed out between collections on a miss
	sinceGC     uintptr
	stats       AllocStats
	outstanding map[uintptr]uintptr // live block → class (for checks in tests; nil to skip)
}

func newAllocator(malloc func(uintptr) (uintptr, error), free func(uintptr) error, gcEvery uintptr) *allocator {
	return &allocator{
		malloc:  malloc,
		free:    free,
		gc:      collect,
		lists:   map[uintptr][]uintptr{},
		gcEvery: gcEvery,
	}
}

// collect runs the garbage collector and lets the cleanups it queued run.
func collect() {
	runtime.GC()
	for i := 0; i < 4; i++ {
		runtime.Gosched()
	}
	time.Sleep(100 * time.Microsecond)
}

// pop takes a block of class c off its free list; a.mu must be held.
func (a *allocator) pop(c uintptr) (uintptr, bool) {
	l := a.lists[c]
	if len(l) == 0 {
		return 0, false
	}
	p := l[len(l)-1]
	a.lists[c] = l[:len(l)-1]
	a.stats.CachedBytes -= int64(c)
	a.stats.InUseBytes += int64(c)
	a.stats.Hits++
	a.sinceGC += c
	if a.outstanding != nil {
		a.outstanding[p] = c
	}
	return p, true
}

// get returns a block of at least n bytes and its size class.
func (a *allocator) get(n uintptr) (uintptr, uintptr, error) {
	c := sizeClass(n)
	a.mu.Lock()
	if p, ok := a.pop(c); ok {
		a.mu.Unlock()
		return p, c, nil
	}
	collectFirst := a.sinceGC >= a.gcEvery
	a.mu.Unlock()

	if collectFirst {
		a.collectAndRetry()
		a.mu.Lock()
		if p, ok := a.pop(c); ok {
			a.mu.Unlock()
			return p, c, nil
		}
		a.mu.Unlock()
	}
	p, err := a.malloc(c)
	for try := 0; err != nil && try < 3; try++ {
		// The device is full: give every cached block back to the driver,
		// collect, and try again; dead buffers may hold the memory.
		if ferr := a.release(); ferr != nil {
			return 0, 0, ferr
		}
		a.collectAndRetry()
		a.mu.Lock()
		if q, ok := a.pop(c); ok {
			a.mu.Unlock()
			return q, c, nil
		}
		a.mu.Unlock()
		if ferr := a.release(); ferr != nil {
			return 0, 0, ferr
		}
		p, err = a.malloc(c)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.stats.OutOfMemories++
		return 0, 0, fmt.Errorf("%w (allocating %d bytes with %d in use)", err, c, a.stats.InUseBytes)
	}
	a.stats.Misses++
	a.stats.DriverAllocs++
	a.stats.InUseBytes += int64(c)
	a.sinceGC += c
	if t := a.stats.InUseBytes + a.stats.CachedBytes; t > a.stats.PeakBytes {
		a.stats.PeakBytes = t
	}
	if a.outstanding != nil {
		a.outstanding[p] = c
	}
	return p, c, nil
}

// collectAndRetry runs a collection so that dead buffers return their
// blocks.
func (a *allocator) collectAndRetry() {
	a.mu.Lock()
	a.sinceGC = 0
	a.stats.Collections++
	a.mu.Unlock()
	a.gc()
}

// put returns a block to its free list.
func (a *allocator) put(p, c uintptr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.outstanding != nil {
		if oc, ok := a.outstanding[p]; !ok || oc != c {
			panic(fmt.Sprintf("cuda: allocator: block %#x of class %d returned but not handed out", p, c))
		}
		delete(a.outstanding, p)
	}
	a.lists[c] = append(a.lists[c], p)
	a.stats.InUseBytes -= int64(c)
	a.stats.CachedBytes += int64(c)
}

// release frees every cached block.
func (a *allocator) release() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c, l := range a.lists {
		for len(l) > 0 {
			p := l[len(l)-1]
			if err := a.free(p); err != nil {
				a.lists[c] = l
				return err
			}
			l = l[:len(l)-1]
			a.stats.CachedBytes -= int64(c)
			a.stats.DriverFrees++
		}
		delete(a.lists, c)
	}
	return nil
}

// snapshot returns the statistics.
func (a *allocator) snapshot() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// block is what a buffer's cleanup hands back.
type block struct {
	a     *allocator
	ptr   uintptr
	class uintptr
}

func (b block) give() { b.a.put(b.ptr, b.class) }
