package autograd

import (
	"runtime/debug"
	"strings"
	"testing"
)

// scopeStep runs one forward and backward pass of a two-layer network on
// tensors large enough for the pool, through s when it is not nil, and
// returns the loss.
func scopeStep(s *Scope, w1, w2, x *Tensor) float32 {
	h := x.MatMul(w1).Relu()
	loss := h.MatMul(w2).Tanh().Square().Mean()
	if s != nil {
		s.Backward(loss)
	} else {
		loss.Backward()
	}
	return loss.Item()
}

func scopeParams() (w1, w2, x *Tensor) {
	rng := NewRNG(3)
	w1 = rng.Normal(0, 0.1, 96, 128).SetRequiresGrad(true)
	w2 = rng.Normal(0, 0.1, 128, 64).SetRequiresGrad(true)
	x = rng.Normal(0, 1, 256, 96)
	return
}

func TestScopeReusesStorageAndKeepsResults(t *testing.T) {
	// The nodes hold their outputs weakly, so storage that the garbage
	// collector frees before the scope closes is the heap's, not the
	// pool's, and the next step misses once; the count of misses below is
	// exact only without a collection in between (seen on a 16-core
	// machine, and here with GOGC=1).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	w1, w2, x := scopeParams()
	want := scopeStep(nil, w1, w2, x)
	wantG1, wantG2 := w1.Grad.Data(), w2.Grad.Data()

	FreePool()
	for step := 0; step < 4; step++ {
		w1.ReleaseGrad()
		w2.ReleaseGrad()
		ResetPoolStats()
		s := OpenScope()
		got := scopeStep(s, w1, w2, x)
		if s.Len() == 0 {
			t.Fatal("scope collected nothing")
		}
		s.Close()
		if got != want {
			t.Fatalf("step %d: loss %v with a scope, %v without", step, got, want)
		}
		// Leaf gradients outlive the scope and are unchanged.
		if d := maxDiff(w1.Grad.Data(), wantG1); d != 0 {
			t.Fatalf("step %d: w1.Grad differs by %g", step, d)
		}
		if d := maxDiff(w2.Grad.Data(), wantG2); d != 0 {
			t.Fatalf("step %d: w2.Grad differs by %g", step, d)
		}
		st := CPUPoolStats()
		if step >= 1 && st.Misses > 0 {
			t.Fatalf("step %d: %d pool misses (%d hits): a steady loop should reuse its storage", step, st.Misses, st.Hits)
		}
		if step >= 1 && st.Hits == 0 {
			t.Fatalf("step %d: no pool hits", step)
		}
	}
}

func maxDiff(a, b []float32) float32 {
	var m float32
	for i := range a {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

func mustPanicWith(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("no panic; want one containing %q", want)
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Fatalf("panic %v; want one containing %q", r, want)
		}
	}()
	f()
}

func TestScopeReleasedTensorPanics(t *testing.T) {
	w1, w2, x := scopeParams()
	s := OpenScope()
	h := x.MatMul(w1)
	kept := Keep(h.Relu())
	var noGrad *Tensor
	NoGrad(func() { noGrad = x.MatMul(w1) })
	outside := x.MatMul(w2.Narrow(0, 0, 96)) // in no graph Backward walks
	loss := kept.MatMul(w2).Sum()
	s.Backward(loss)
	s.Close()
	mustPanicWith(t, "autograd.Scope", func() { h.Data() })
	mustPanicWith(t, "autograd.Scope", func() { h.Add(h) })
	_ = loss // a scalar: too small for the pool, left to the GC
	if _, err := h.HostData(); err == nil || !strings.Contains(err.Error(), "Scope") {
		t.Fatalf("HostData of a released tensor: err %v", err)
	}
	// Kept tensors, tensors computed without a graph and tensors outside
	// the graph stay valid, as do the leaves and their gradients.
	_ = kept.Sum().Item()
	_ = noGrad.Sum().Item()
	_ = outside.Sum().Item()
	_ = w1.Grad.Sum().Item()
	_ = x.Sum().Item()
}

// TestInterleavedScopes runs two training loops whose steps interleave,
// as data-parallel replicas taking turns in one process do: each scope
// releases only its own graph, whatever order they close in.
func TestInterleavedScopes(t *testing.T) {
	type replica struct{ w1, w2, x *Tensor }
	var rs [2]replica
	for i := range rs {
		rs[i].w1, rs[i].w2, rs[i].x = scopeParams()
	}
	fwd := func(r replica) *Tensor { return r.x.MatMul(r.w1).Relu().MatMul(r.w2).Tanh().Square().Mean() }
	for step := 0; step < 5; step++ {
		s0, s1 := OpenScope(), OpenScope()
		l0 := fwd(rs[0])
		l1 := fwd(rs[1])
		s1.Backward(l1)
		s0.Backward(l0)
		s1.Close()
		v0 := l0.Item() // replica 0's graph is still alive
		s0.Close()
		if step > 0 && v0 == 0 {
			t.Fatal("zero loss")
		}
		for _, r := range rs {
			NoGrad(func() {
				r.w1.AddInPlace(r.w1.Grad, -0.1)
				r.w2.AddInPlace(r.w2.Grad, -0.1)
			})
			r.w1.ZeroGrad()
			r.w2.ZeroGrad()
		}
	}
	if d := maxDiff(rs[0].w1.Data(), rs[1].w1.Data()); d != 0 {
		t.Fatalf("the replicas' weights differ by %g", d)
	}
}

func TestScopeNeverReusesEscapedStorage(t *testing.T) {
	w1, w2, x := scopeParams()
	s := OpenScope()
	h := x.MatMul(w1).Relu()
	host, err := h.HostData()
	if err != nil {
		t.Fatal(err)
	}
	snapshot := append([]float32(nil), host...)
	s.Backward(h.MatMul(w2).Sum())
	s.Close()
	// Allocate the same size many times: none may land in host's memory.
	for i := 0; i < 8; i++ {
		_ = FullOn(CPU, 7, h.Shape()...)
	}
	if d := maxDiff(host, snapshot); d != 0 {
		t.Fatalf("storage handed out by HostData was reused (changed by %g)", d)
	}
}

func TestScopeSeedAndRetainedGradSurvive(t *testing.T) {
	w1, _, x := scopeParams()
	s := OpenScope()
	h := x.MatMul(w1).RetainGrad()
	seed := OnesLike(h)
	s.BackwardWith(h, seed, false)
	s.Close()
	_ = seed.Sum().Item()
	_ = h.Grad.Sum().Item()
	_ = w1.Grad.Sum().Item()
}

func TestScopeAddAndClose(t *testing.T) {
	s := OpenScope()
	y := s.Add(NewRNG(1).Normal(0, 1, 100, 100))
	old := Keep(Zeros(100, 100))
	s.Add(old)
	s.Close()
	s.Close() // twice is fine
	mustPanicWith(t, "autograd.Scope", func() { y.Sum() })
	_ = old.Sum().Item()
	mustPanicWith(t, "closed", func() { s.Add(y) })
}

func TestPoolLimitZeroTurnsReuseOff(t *testing.T) {
	prev := SetPoolLimit(0)
	defer SetPoolLimit(prev)
	w1, w2, x := scopeParams()
	s := OpenScope()
	scopeStep(s, w1, w2, x)
	s.Close()
	if st := CPUPoolStats(); st.HeldBytes != 0 {
		t.Fatalf("pool holds %d bytes with a zero limit", st.HeldBytes)
	}
}

func TestConvScratchReturnsToPool(t *testing.T) {
	rng := NewRNG(5)
	x := rng.Normal(0, 1, 2, 8, 16, 16).SetRequiresGrad(true)
	w := rng.Normal(0, 0.1, 8, 8, 3, 3).SetRequiresGrad(true)
	y := Conv2d(x, w, nil, Conv2dOptions{Padding: SymmetricPadding(1, 1)})
	FreePool()
	ResetPoolStats()
	y.Sum().Backward()
	// Backward's im2col columns for dW and its col2im columns for dX.
	if st := CPUPoolStats(); st.Returned < 2 {
		t.Fatalf("backward's scratch was not returned: %+v", st)
	}
}

// TestUninitOutputsAreOverwritten runs a graph through every op whose
// output skips clearing, several times inside scopes with reused storage
// poisoned with NaN: a kernel that leaves part of its output unwritten
// shows up as a NaN or a changed value.
func TestUninitOutputsAreOverwritten(t *testing.T) {
	poisonUninit = true
	defer func() { poisonUninit = false }()
	rng := NewRNG(8)
	x := rng.Normal(0, 1, 4, 8, 12, 12).SetRequiresGrad(true)
	wc := rng.Normal(0, 0.2, 16, 8, 3, 3).SetRequiresGrad(true)
	bc := rng.Normal(0, 0.1, 16).SetRequiresGrad(true)
	wd := rng.Normal(0, 0.2, 16, 1, 5, 5).SetRequiresGrad(true)
	ln := rng.Normal(1, 0.1, 144).SetRequiresGrad(true)
	lb := rng.Normal(0, 0.1, 144).SetRequiresGrad(true)
	wm := rng.Normal(0, 0.1, 144, 40).SetRequiresGrad(true)
	// Dense convolutions whose input and weight are not leaves, so that
	// their gradients are pooled storage too: rows 32 wide run the CPU's
	// direct kernels (forward and both gradients); rows 12 wide decline
	// them for the input gradient (im2col accumulates into a cleared
	// buffer) but not for the weight gradient. Then a channel affine.
	xw := rng.Normal(0, 1, 2, 8, 8, 32).SetRequiresGrad(true)
	ww := rng.Normal(0, 0.2, 64, 8, 3, 3).SetRequiresGrad(true)
	sc := rng.Normal(1, 0.1, 64).SetRequiresGrad(true)
	sh := rng.Normal(0, 0.1, 64).SetRequiresGrad(true)
	params := []*Tensor{x, wc, bc, wd, ln, lb, wm, xw, ww, sc, sh}
	step := func(s *Scope) (float32, [][]float32) {
		for _, p := range params {
			p.ZeroGrad()
		}
		h := Conv2d(x, wc, bc, Conv2dOptions{Padding: SymmetricPadding(1, 1)}).Gelu()
		h = Conv2d(h, wd, nil, Conv2dOptions{Padding: SymmetricPadding(2, 2), Groups: 16})
		h = h.Reshape(4, 16, 144)
		h = LayerNorm(h, []int{144}, ln, lb, 1e-5)
		a := h.MatMul(wm).Transpose(1, 2).Softmax(-1) // [4, 40, 16]
		sel := a.IndexSelect(1, []int{0, 3, 3, 39})
		out := Where(sel.Gt(FullOn(CPU, 0.06)), sel.Exp(), sel.Tanh().Mul(sel))
		c := Concat([]*Tensor{sel, sel.Clone().Mul(sel)}, 2) // [4, 4, 32]
		same := Conv2dOptions{Padding: SymmetricPadding(1, 1)}
		wt := ww.Tanh()
		hw := ChannelAffine(Conv2d(xw.Tanh(), wt, nil, same), sc, sh, 1)
		hn := Conv2d(x.Tanh(), wt, nil, same)
		loss := out.Sum().Add(c.Sum(0, 2).Max(0)).Add(c.Mean(1).Sum()).Add(hw.Tanh().Sum()).Add(hn.Tanh().Sum())
		if s != nil {
			s.Backward(loss)
		} else {
			loss.Backward()
		}
		var grads [][]float32
		for _, p := range params {
			grads = append(grads, p.Grad.Data())
		}
		return loss.Item(), grads
	}
	want, wantG := step(nil)
	FreePool()
	for i := 0; i < 3; i++ {
		s := OpenScope()
		got, gotG := step(s)
		s.Close()
		if got != want {
			t.Fatalf("pass %d: loss %v, want %v", i, got, want)
		}
		for k := range gotG {
			if d := maxDiff(gotG[k], wantG[k]); d != 0 || d != d {
				t.Fatalf("pass %d: gradient %d differs by %v", i, k, d)
			}
		}
	}
	if st := CPUPoolStats(); st.Hits == 0 {
		t.Fatal("no storage was reused: the test exercised nothing")
	}
}

// TestScopeRunCollectsInference runs an inference loop under Scope.Run: the
// storage of each pass is reused by the next.
func TestScopeRunCollectsInference(t *testing.T) {
	w1, w2, x := scopeParams()
	var want float32
	NoGrad(func() { want = x.MatMul(w1).Relu().MatMul(w2).Sum().Item() })
	FreePool()
	for i := 0; i < 3; i++ {
		ResetPoolStats()
		s := OpenScope()
		var y *Tensor
		s.Run(func() {
			NoGrad(func() { y = x.MatMul(w1).Relu().MatMul(w2).Sum() })
		})
		if got := y.Item(); got != want {
			t.Fatalf("pass %d: %v, want %v", i, got, want)
		}
		s.Close()
		if st := CPUPoolStats(); i > 0 && st.Misses != 0 {
			t.Fatalf("pass %d: %d misses, %d hits", i, st.Misses, st.Hits)
		}
	}
	if x.Sum().Item() == 0 {
		t.Fatal("the input was released")
	}
}

// TestLeafGradientsNeverShareStorage checks the gradient adoption: leaves
// fed the same backward output (a pass-through of Add, a Reshape view)
// each get storage of their own.
func TestLeafGradientsNeverShareStorage(t *testing.T) {
	rng := NewRNG(4)
	x := rng.Normal(0, 1, 64, 128).SetRequiresGrad(true)
	y := rng.Normal(0, 1, 64, 128).SetRequiresGrad(true)
	z := rng.Normal(0, 1, 128*64).SetRequiresGrad(true)
	h := x.Add(y).Add(z.Reshape(64, 128)).Exp()
	h.Sum().Backward()
	gx, gy, gz := x.Grad.Data(), y.Grad.Data(), z.Grad.Data()
	if maxDiff(gx, gy) != 0 || maxDiff(gx, gz) != 0 {
		t.Fatal("the three gradients should be equal")
	}
	NoGrad(func() { x.Grad.AddInPlace(OnesLike(x.Grad), 1) })
	if maxDiff(y.Grad.Data(), gy) != 0 || maxDiff(z.Grad.Data(), gz) != 0 {
		t.Fatal("changing x.Grad changed another leaf's gradient: they share storage")
	}
	// A second backward accumulates into the adopted storage.
	x.ZeroGrad()
	h = x.Mul(y).Exp()
	h.Sum().Backward()
	first := x.Grad.Data()
	x.Mul(y).Exp().Sum().Backward()
	for i, v := range x.Grad.Data() {
		if d := v - 2*first[i]; d > 1e-5*max(1, 2*first[i]) || d < -1e-5*max(1, 2*first[i]) {
			t.Fatalf("accumulated gradient [%d] = %v, want %v", i, v, 2*first[i])
		}
	}
}
