package cuda

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSizeClass(t *testing.T) {
	for n, want := range map[uintptr]uintptr{0: 512, 1: 512, 512: 512, 513: 1024, 4096: 4096, 4097: 5120,
		5000: 5120, 8192: 8192, 8193: 10240, 10000: 10240, 1 << 20: 1 << 20, 1<<20 + 1: 1<<20 + 1<<18} {
		require.Equalf(t, want, sizeClass(n), "sizeClass(%d)", n)
	}
	prev := uintptr(0)
	for n := uintptr(0); n < 1<<22; n += 37 {
		c := sizeClass(n)
		require.GreaterOrEqual(t, c, n)
		require.GreaterOrEqual(t, c, prev, "classes grow with the request")
		if n > smallStep {
			require.LessOrEqualf(t, float64(c-n), 0.25*float64(n), "waste at %d", n)
		}
		require.Equal(t, c, sizeClass(c), "a class is its own class")
		prev = c
	}
}

// fakeDevice is a driver allocator over a counter, with a capacity.
type fakeDevice struct {
	next, used, limit uintptr
	live              map[uintptr]uintptr
	allocs, frees     int
}

func newFakeDevice(limit uintptr) *fakeDevice {
	return &fakeDevice{next: 1 << 20, limit: limit, live: map[uintptr]uintptr{}}
}

func (f *fakeDevice) malloc(n uintptr) (uintptr, error) {
	if f.used+n > f.limit {
		return 0, errors.New("fake: out of memory")
	}
	p := f.next
	f.next += n + 256
	f.used += n
	f.live[p] = n
	f.allocs++
	return p, nil
}

func (f *fakeDevice) free(p uintptr) error {
	n, ok := f.live[p]
	if !ok {
		return errors.New("fake: double free")
	}
	delete(f.live, p)
	f.used -= n
	f.frees++
	return nil
}

func TestAllocatorReuse(t *testing.T) {
	f := newFakeDevice(1 << 30)
	a := newAllocator(f.malloc, f.free, 1<<30)
	a.outstanding = map[uintptr]uintptr{}
	p1, c1, err := a.get(1000)
	require.NoError(t, err)
	require.EqualValues(t, 1024, c1)
	a.put(p1, c1)
	p2, c2, err := a.get(900) // same class: the cached block
	require.NoError(t, err)
	require.Equal(t, p1, p2)
	require.Equal(t, c1, c2)
	p3, _, err := a.get(2000) // another class: a new block
	require.NoError(t, err)
	require.NotEqual(t, p1, p3)
	st := a.snapshot()
	require.EqualValues(t, 1, st.Hits)
	require.EqualValues(t, 2, st.Misses)
	require.EqualValues(t, 2, f.allocs)
	require.EqualValues(t, 1024+2048, st.InUseBytes)
	require.Panics(t, func() { a.put(p1+8, c1) }, "a block that was not handed out")

	a.put(p2, c2)
	a.put(p3, 2048)
	require.NoError(t, a.release())
	require.Equal(t, 2, f.frees)
	require.Empty(t, f.live)
	require.Zero(t, a.snapshot().CachedBytes)
}

// TestAllocatorSteadyState runs a fake training loop: every step allocates
// the same sizes, and its blocks come back only when the allocator asks
// for a collection (as buffers do through their cleanups). After the first
// steps, no step reaches the driver.
func TestAllocatorSteadyState(t *testing.T) {
	f := newFakeDevice(1 << 30)
	var dead [][2]uintptr
	a := newAllocator(f.malloc, f.free, 4<<20)
	a.gc = func() {
		for _, d := range dead {
			a.put(d[0], d[1])
		}
		dead = nil
	}
	sizes := []uintptr{4 << 10, 1 << 20, 300 << 10, 64, 1 << 20, 2 << 20, 7777}
	var allocsAfter []int
	for step := 0; step < 20; step++ {
		for _, s := range sizes {
			p, c, err := a.get(s)
			require.NoError(t, err)
			dead = append(dead, [2]uintptr{p, c})
		}
		allocsAfter = append(allocsAfter, f.allocs)
	}
	for i := 5; i < len(allocsAfter); i++ {
		require.Equalf(t, allocsAfter[4], allocsAfter[i], "driver allocations after step %d: %v", i, allocsAfter)
	}
	st := a.snapshot()
	require.Positive(t, st.Collections)
	require.Less(t, st.PeakBytes, int64(4*(4<<20)+2*5<<20), "the cache stays bounded")
}

func TestAllocatorOutOfMemory(t *testing.T) {
	f := newFakeDevice(10 << 20)
	var dead [][2]uintptr
	a := newAllocator(f.malloc, f.free, 1<<40) // never collect for pressure
	a.gc = func() {
		for _, d := range dead {
			a.put(d[0], d[1])
		}
		dead = nil
	}
	// Fill the device with 1 MiB blocks, cache them, then ask for 8 MiB:
	// the cached blocks must go back to the driver first.
	var ps [][2]uintptr
	for i := 0; i < 9; i++ {
		p, c, err := a.get(1 << 20)
		require.NoError(t, err)
		ps = append(ps, [2]uintptr{p, c})
	}
	for _, p := range ps {
		a.put(p[0], p[1])
	}
	p, c, err := a.get(8 << 20)
	require.NoError(t, err)
	require.EqualValues(t, 8<<20, c)
	require.Equal(t, 9, f.frees)
	// Dead blocks are found by the collection the allocator runs.
	dead = append(dead, [2]uintptr{p, c})
	_, _, err = a.get(9 << 20)
	require.NoError(t, err)
	// Too much even for an empty device.
	_, _, err = a.get(64 << 20)
	require.ErrorContains(t, err, "fake: out of memory")
	require.ErrorContains(t, err, "allocating 67108864 bytes")
	require.EqualValues(t, 1, a.snapshot().OutOfMemories)
}

// TestBufferCleanup checks that a buffer nobody references returns its
// block to the allocator, without a GPU: newBuffer only needs the
// allocator.
func TestBufferCleanup(t *testing.T) {
	f := newFakeDevice(1 << 30)
	g := &GPU{name: "cuda:test"}
	g.alloc = newAllocator(f.malloc, f.free, 1<<30)
	func() {
		b := g.newBuffer(1000)
		require.Equal(t, 1000, b.Len())
		require.NotZero(t, b.ptr)
		require.EqualValues(t, 4096, g.alloc.snapshot().InUseBytes)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for g.alloc.snapshot().InUseBytes != 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	st := g.alloc.snapshot()
	require.Zero(t, st.InUseBytes)
	require.EqualValues(t, 4096, st.CachedBytes)
	require.Zero(t, g.newBuffer(0).ptr, "an empty buffer has no block")
}
