// Package cpu holds deepgo's CPU kernels: GEMM, elementwise and reduction loops,
// strided copies, softmax and the worker pool they share. It works on plain
// []float32 slices and knows nothing about tensors or autograd.
package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// pool is the single worker pool every parallel kernel runs on. Workers are
// started lazily and live for the life of the process.
type pool struct {
	once    sync.Once
	workers int
	tasks   chan func()
}

var thePool pool

func (p *pool) start() {
	p.once.Do(func() {
		p.workers = runtime.GOMAXPROCS(0)
		if p.workers < 1 {
			p.workers = 1
		}
		p.tasks = make(chan func(), 4*p.workers)
		for i := 0; i < p.workers; i++ {
			go func() {
				for f := range p.tasks {
					f()
				}
			}()
		}
	})
}

// Workers reports how many goroutines the pool runs (GOMAXPROCS at first use).
func Workers() int {
	thePool.start()
	return thePool.workers
}

// ParallelFor splits [0, n) into contiguous chunks of at least grain items and
// runs fn on each chunk, using the pool's workers and the calling goroutine.
// It returns when every chunk is done. With one chunk it calls fn directly.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	w := Workers()
	chunks := (n + grain - 1) / grain
	if chunks > w {
		chunks = w
	}
	if chunks <= 1 {
		fn(0, n)
		return
	}
	size := (n + chunks - 1) / chunks
	var g group
	for lo := size; lo < n; lo += size {
		l, h := lo, min(lo+size, n)
		g.submit(func() { fn(l, h) })
	}
	// The helper just woken sits in this P's runnext, where an idle P may
	// only steal it after a short sleep (tens of microseconds in a VM, as
	// long as a mid-sized kernel's whole chunk). Yielding once lets it
	// start here at once while an idle P picks this goroutine up from the
	// global run queue: a 1M-element add on 2 cores goes from about 190 to
	// 117 µs (internal/cpu/gemm.go does the same for its task 0).
	runtime.Gosched()
	fn(0, min(size, n))
	g.wait()
}

// group tracks tasks handed to the pool. Its wait helps run queued tasks, so a
// kernel that calls a parallel helper from inside a pool task cannot deadlock.
type group struct {
	pending atomic.Int64
	done    chan struct{}
}

func (g *group) submit(f func()) {
	if g.done == nil {
		g.done = make(chan struct{})
		g.pending.Store(1) // the submitter's hold, released by wait
	}
	g.pending.Add(1)
	task := func() {
		f()
		if g.pending.Add(-1) == 0 {
			close(g.done)
		}
	}
	select {
	case thePool.tasks <- task:
	default:
		task() // queue full: run it here rather than block
	}
}

// wait returns once every submitted task has run. Tasks must all be
// submitted before wait is called.
func (g *group) wait() {
	if g.done == nil || g.pending.Add(-1) == 0 {
		return
	}
	for {
		select {
		case <-g.done:
			return
		case f := <-thePool.tasks:
			f()
		}
	}
}

// ParallelTasks runs fn(i) for every i in [0, n), each task on one worker,
// handing out tasks dynamically so uneven tasks balance. The caller's
// goroutine takes part.
func ParallelTasks(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if n == 1 || w == 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var mu sync.Mutex
	next := 0
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		i := next
		next++
		return i
	}
	run := func() {
		for i := take(); i < n; i = take() {
			fn(i)
		}
	}
	helpers := min(w, n) - 1
	var g group
	for i := 0; i < helpers; i++ {
		g.submit(run)
	}
	runtime.Gosched() // as in ParallelFor
	run()
	g.wait()
}
