package cuda

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// Profile is what the GPU ran between StartProfile and StopProfile: the
// time of every kernel, cuBLAS call, copy and fill on the device's stream,
// measured with CUDA events around each one and summed by name. Kernels
// are named as in their CUDA source (dg_...), cuBLAS calls by their shape
// ("sgemm NT m=576 n=25216 k=192 batch=1"), copies and fills by the driver
// call.
type Profile struct {
	// Entries are the sums by name, longest total first.
	Entries []ProfileEntry
	// GPUTime is the sum of all entries: the time the stream was busy.
	GPUTime time.Duration
	// Wall is the host time from StartProfile to StopProfile. A Wall much
	// longer than GPUTime means the GPU waited for the host (launch-bound).
	Wall time.Duration
	// Calls is the number of timed operations.
	Calls int
}

// ProfileEntry is the total time and count of one kind of GPU operation.
type ProfileEntry struct {
	Name  string
	Calls int
	Time  time.Duration
}

// String formats the profile as a table, longest first, with each entry's
// share of the GPU time.
func (p *Profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GPU busy %v of %v wall, %d operations\n", p.GPUTime.Round(time.Microsecond), p.Wall.Round(time.Microsecond), p.Calls)
	fmt.Fprintf(&b, "%10s %6s %7s %10s  %s\n", "total", "share", "calls", "per call", "operation")
	for _, e := range p.Entries {
		share := 0.0
		if p.GPUTime > 0 {
			share = 100 * float64(e.Time) / float64(p.GPUTime)
		}
		fmt.Fprintf(&b, "%10v %5.1f%% %7d %10v  %s\n", e.Time.Round(time.Microsecond), share, e.Calls,
			(e.Time / time.Duration(max(e.Calls, 1))).Round(100*time.Nanosecond), e.Name)
	}
	return b.String()
}

// profiler holds the events of a profile in progress.
type profiler struct {
	start   time.Time
	events  []uintptr // every event made so far, reused between profiles
	used    int       // events[:used] are recorded and not yet read
	pending []profRecord
	totals  map[string]*ProfileEntry
	calls   int
}

type profRecord struct {
	name       string
	start, end int // indices into events
}

// profFlushAt is how many operations are timed before the events are read
// (which waits for the GPU) to bound the number of live events.
const profFlushAt = 1 << 14

// StartProfile starts timing every operation the GPU runs, until
// StopProfile. Timing puts two events on the stream around each operation,
// which costs a little host time per launch; results are exact GPU times.
// It fails when the driver lacks CUDA events or a profile is running.
func (g *GPU) StartProfile() error {
	if err := g.init(); err != nil {
		return err
	}
	if err := g.drv.bindEvents(); err != nil {
		return err
	}
	g.enter()
	defer g.exit()
	if g.prof != nil {
		return fmt.Errorf("cuda: StartProfile on %s: a profile is already running; call StopProfile first", g.name)
	}
	g.prof = &profiler{start: time.Now(), events: g.profEvents, totals: map[string]*ProfileEntry{}}
	return nil
}

// StopProfile waits for the GPU, ends the profile started by StartProfile
// and returns it.
func (g *GPU) StopProfile() (*Profile, error) {
	if err := g.init(); err != nil {
		return nil, err
	}
	g.enter()
	defer g.exit()
	p := g.prof
	if p == nil {
		return nil, fmt.Errorf("cuda: StopProfile on %s: no profile is running; call StartProfile first", g.name)
	}
	err := g.profFlush()
	g.prof = nil
	g.profEvents = p.events
	if err != nil {
		return nil, err
	}
	out := &Profile{Wall: time.Since(p.start), Calls: p.calls}
	for _, e := range p.totals {
		out.Entries = append(out.Entries, *e)
		out.GPUTime += e.Time
	}
	sort.Slice(out.Entries, func(i, j int) bool {
		if out.Entries[i].Time != out.Entries[j].Time {
			return out.Entries[i].Time > out.Entries[j].Time
		}
		return out.Entries[i].Name < out.Entries[j].Name
	})
	return out, nil
}

// profBegin records an event before an operation and returns its index,
// or -1 when no profile is running. Called inside enter/exit.
func (g *GPU) profBegin() int {
	p := g.prof
	if p == nil {
		return -1
	}
	return g.profRecord(p)
}

// profEnd records the event after the operation begun at start.
func (g *GPU) profEnd(name string, start int) {
	p := g.prof
	if p == nil || start < 0 {
		return
	}
	end := g.profRecord(p)
	p.pending = append(p.pending, profRecord{name: name, start: start, end: end})
	p.calls++
	if len(p.pending) >= profFlushAt {
		g.must(g.profFlush())
	}
}

// profRecord puts the next free event on the stream.
func (g *GPU) profRecord(p *profiler) int {
	if p.used == len(p.events) {
		var e uintptr
		g.must(g.drv.check("cuEventCreate", ccall(g.drv.cuEventCreate, uintptr(unsafe.Pointer(&e)), 0)))
		p.events = append(p.events, e)
	}
	i := p.used
	p.used++
	g.must(g.drv.check("cuEventRecord", ccall(g.drv.cuEventRecord, p.events[i], g.stream)))
	return i
}

// profFlush waits for the recorded events and adds their times to the
// totals.
func (g *GPU) profFlush() error {
	p := g.prof
	if p.used == 0 {
		return nil
	}
	if err := g.drv.check("cuEventSynchronize", ccall(g.drv.cuEventSynchronize, p.events[p.used-1])); err != nil {
		return err
	}
	for _, r := range p.pending {
		var ms float32
		if err := g.drv.check("cuEventElapsedTime", ccall(g.drv.cuEventElapsedTime,
			uintptr(unsafe.Pointer(&ms)), p.events[r.start], p.events[r.end])); err != nil {
			return err
		}
		e := p.totals[r.name]
		if e == nil {
			e = &ProfileEntry{Name: r.name}
			p.totals[r.name] = e
		}
		e.Calls++
		e.Time += time.Duration(float64(ms) * 1e6)
	}
	p.pending = p.pending[:0]
	p.used = 0
	return nil
}
