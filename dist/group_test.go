package dist

import (
	"fmt"
	"slices"
	"sync"
)

// group is an in-process stand-in for MPI in the tests: n members, each the
// Comm of one goroutine. The goroutines take turns, one running at a time
// (the autograd tape and its no-grad switch are for one goroutine at a
// time): a rank runs until it calls a collective, then hands the turn to
// the next, and the last to arrive completes the collective.
type group struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	turn    int    // the rank that may run
	done    []bool // the ranks that have returned
	gen     int    // the number of collectives completed
	arrived int    // ranks in the current collective
	slots   [][]float32
	ops     []string
	result  [][]float32 // every rank's deposit in the last collective
}

// newGroup returns the communicators of n ranks, to be used from n
// goroutines (see inGroup).
func newGroup(n int) []Comm {
	g := &group{n: n, slots: make([][]float32, n), ops: make([]string, n), done: make([]bool, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &member{g: g, rank: r}
	}
	return cs
}

// pass hands the turn from rank to the next rank still running; g.mu is
// held.
func (g *group) pass(rank int) {
	for i := 1; i <= g.n; i++ {
		if r := (rank + i) % g.n; !g.done[r] {
			g.turn = r
			break
		}
	}
	g.cond.Broadcast()
}

type member struct {
	g    *group
	rank int
}

// exchange deposits send and returns every rank's deposit; it panics when
// the ranks call different collectives or give different lengths.
func (m *member) exchange(op string, send []float32) [][]float32 {
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.slots[m.rank] = slices.Clone(send)
	g.ops[m.rank] = fmt.Sprintf("%s of %d", op, len(send))
	mine := g.gen
	g.arrived++
	if g.arrived == g.n {
		for r := range g.n {
			if g.ops[r] != g.ops[0] && op != "Broadcast" {
				panic(fmt.Sprintf("group: rank %d calls %s, rank 0 %s", r, g.ops[r], g.ops[0]))
			}
		}
		g.result = make([][]float32, g.n)
		for r := range g.n {
			g.result[r] = slices.Clone(g.slots[r])
		}
		g.arrived = 0
		g.gen++
	}
	g.pass(m.rank)
	for g.turn != m.rank || g.gen == mine {
		g.cond.Wait()
	}
	out := make([][]float32, g.n)
	for r := range out {
		out[r] = slices.Clone(g.result[r])
	}
	return out
}

func (m *member) Rank() int { return m.rank }
func (m *member) Size() int { return m.g.n }

func (m *member) AllReduce(buf []float32, op Op) error {
	op.check("AllReduce")
	all := m.exchange("AllReduce", buf)
	for i := range buf {
		v := all[0][i]
		for _, o := range all[1:] {
			if op == Max {
				v = max(v, o[i])
			} else {
				v += o[i]
			}
		}
		if op == Mean {
			v /= float32(m.g.n)
		}
		buf[i] = v
	}
	return nil
}

func (m *member) Broadcast(buf []float32, root int) error {
	checkRoot(root, m.g.n)
	all := m.exchange("Broadcast", buf)
	copy(buf, all[root])
	return nil
}

func (m *member) AllGather(send, recv []float32) error {
	checkGather(send, recv, m.g.n)
	for r, s := range m.exchange("AllGather", send) {
		copy(recv[r*len(send):], s)
	}
	return nil
}

func (m *member) Barrier() error {
	m.exchange("Barrier", nil)
	return nil
}

func (m *member) Close() error { return nil }

// inGroup runs f for every rank of a new group of n, each on its own
// goroutine, taking turns, and returns their errors.
func inGroup(n int, f func(c Comm) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range newGroup(n) {
		wg.Add(1)
		g := c.(*member).g
		go func() {
			defer wg.Done()
			g.mu.Lock()
			for g.turn != r {
				g.cond.Wait()
			}
			g.mu.Unlock()
			defer func() {
				g.mu.Lock()
				g.done[r] = true
				g.pass(r)
				g.mu.Unlock()
			}()
			errs[r] = f(c)
		}()
	}
	wg.Wait()
	return errs
}
