package cpu

// AdamArgs are the scalars of one Adam or AdamW update in the form of
// torch.optim.Adam's single-tensor step, with the bias corrections folded
// in by the caller.
type AdamArgs struct {
	// Beta1 and Beta2 are the moment decay rates.
	Beta1, Beta2 float32
	// StepSize is lr / (1 − β₁ᵗ); BC2Sqrt is √(1 − β₂ᵗ).
	StepSize, BC2Sqrt float32
	// Eps is added to the denominator.
	Eps float32
	// L2 is the weight decay added to the gradient (Adam); Decay is the
	// factor 1 − lr·wd the parameter is scaled by first (AdamW). Zero L2
	// and Decay 1 mean none.
	L2, Decay float32
}

// adamChunk is the number of elements updated together, small enough that
// the chunk's temporaries stay in L1.
const adamChunk = 1024

// Adam applies one update to p in place from its gradient g and moments m
// and v (and the running maximum vmax for AMSGrad, nil otherwise):
//
//	g ← g + L2·p;  p ← Decay·p
//	m ← β₁·m + (1−β₁)·g;  v ← β₂·v + (1−β₂)·g²;  vmax ← max(vmax, v)
//	p ← p − StepSize · m / (√v / BC2Sqrt + Eps)
//
// It runs over the worker pool, each chunk through the vector kernels.
func Adam(p, g, m, v, vmax []float32, a AdamArgs) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	if vmax != nil {
		vmax = vmax[:n]
	}
	ParallelFor(n, 1<<14, func(lo, hi int) {
		var t1, t2 [adamChunk]float32
		for c := lo; c < hi; c += adamChunk {
			e := min(c+adamChunk, hi)
			k := e - c
			pc, gc, mc, vc := p[c:e], g[c:e], m[c:e], v[c:e]
			if a.L2 != 0 {
				x := t1[:k]
				copy(x, gc)
				convAxpy(a.L2, pc, x)
				gc = x
			}
			if a.Decay != 1 {
				MulScalar(pc, pc, a.Decay)
			}
			MulScalar(mc, mc, a.Beta1)
			convAxpy(1-a.Beta1, gc, mc)
			sq := t2[:k]
			Mul(sq, gc, gc)
			MulScalar(vc, vc, a.Beta2)
			convAxpy(1-a.Beta2, sq, vc)
			second := vc
			if vmax != nil {
				vm := vmax[c:e]
				Maximum(vm, vm, vc)
				second = vm
			}
			den := t2[:k]
			Sqrt(den, second)
			DivScalar(den, den, a.BC2Sqrt)
			AddScalar(den, den, a.Eps)
			Div(den, mc, den)
			convAxpy(-a.StepSize, den, pc)
		}
	})
}
