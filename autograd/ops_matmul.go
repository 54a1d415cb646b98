package autograd

import "fmt"

// MatMul is the matrix product with torch.matmul's semantics: 1-D operands
// are promoted to a row (left) or column (right) vector and the added
// dimension removed afterwards; N-D operands are stacks of matrices whose
// batch dimensions broadcast.
func (t *Tensor) MatMul(b *Tensor) *Tensor { return MatMulT(t, b, false, false) }

// MatMulT is MatMul of op(a) and op(b), where op transposes the last two
// dimensions when the flag is set. The transpose costs no copy: the kernel
// reads the operand transposed. Flags apply only to operands with at least
// two dimensions.
func MatMulT(a, b *Tensor, transA, transB bool) *Tensor {
	sameDevice("MatMul", a, b)
	if a.Dim() == 0 || b.Dim() == 0 {
		panic(fmt.Sprintf("autograd: MatMul: shapes %v and %v: both operands need at least one dimension", a.shape, b.shape))
	}
	x, y := a, b
	squeezeRow, squeezeCol := false, false
	if x.Dim() == 1 {
		x, transA, squeezeRow = x.Unsqueeze(0), false, true
	}
	if y.Dim() == 1 {
		y, transB, squeezeCol = y.Unsqueeze(1), false, true
	}
	m, ka := x.shape[x.Dim()-2], x.shape[x.Dim()-1]
	if transA {
		m, ka = ka, m
	}
	kb, n := y.shape[y.Dim()-2], y.shape[y.Dim()-1]
	if transB {
		kb, n = n, kb
	}
	if ka != kb {
		panic(fmt.Sprintf("autograd: MatMul: shapes %v and %v (transA=%v, transB=%v) have inner dimensions %d and %d", a.shape, b.shape, transA, transB, ka, kb))
	}
	batchA, batchB := x.shape[:x.Dim()-2], y.shape[:y.Dim()-2]
	batch := BroadcastShapes("MatMul", batchA, batchB)
	var out *Tensor
	switch {
	case x.Dim() == 2 && y.Dim() == 2:
		out = bmm(x, y, transA, transB, 1, 1)
	case prod(batchB) == 1 && !transA && len(batchA) > 0:
		// [..., M, K] @ [K, N]: fold the batch into M, one large GEMM.
		x2 := x.Reshape(-1, x.shape[x.Dim()-1])
		y2 := y.Reshape(y.shape[y.Dim()-2], y.shape[y.Dim()-1])
		out = bmm(x2, y2, false, transB, 1, 1)
		out = out.Reshape(append(append([]int{}, batch...), m, n)...)
	default:
		nb := prod(batch)
		xe := batchTo(x, batch, prod(batchA) == 1)
		ye := batchTo(y, batch, prod(batchB) == 1)
		out = bmm(xe, ye, transA, transB, nb, nb)
		out = out.Reshape(append(append([]int{}, batch...), m, n)...)
	}
	if squeezeRow {
		out = out.Squeeze(out.Dim() - 2)
	}
	if squeezeCol {
		out = out.Squeeze(out.Dim() - 1)
	}
	return out
}

// batchTo brings x's batch dimensions to [nb, r, c]: shared matrices
// (a batch of one) stay unexpanded, others are broadcast and flattened.
func batchTo(x *Tensor, batch []int, shared bool) *Tensor {
	r, c := x.shape[x.Dim()-2], x.shape[x.Dim()-1]
	if shared {
		return x.Reshape(1, r, c)
	}
	full := append(append([]int{}, batch...), r, c)
	return x.Expand(full...).Reshape(-1, r, c)
}

// bmm multiplies 3-D (or, for a batch of one, 2-D) operands with the batch
// count nb; an operand whose leading size is 1 is shared across the batch.
func bmm(a, b *Tensor, transA, transB bool, nb, _ int) *Tensor {
	ra, ca := a.shape[a.Dim()-2], a.shape[a.Dim()-1]
	rb, cb := b.shape[b.Dim()-2], b.shape[b.Dim()-1]
	m, k := ra, ca
	if transA {
		m, k = ca, ra
	}
	n := cb
	if transB {
		n = rb
	}
	sharedA := a.Dim() == 2 || a.shape[0] == 1
	sharedB := b.Dim() == 2 || b.shape[0] == 1
	var outShape []int
	if a.Dim() == 2 && b.Dim() == 2 {
		outShape = []int{m, n}
	} else {
		outShape = []int{nb, m, n}
	}
	out := output(a.dev, outShape)
	if out.Numel() > 0 {
		args := GemmArgs{
			TransA: transA, TransB: transB, M: m, N: n, K: k,
			Alpha: 1, Beta: 0, Batch: nb,
			LDA: ca, LDB: cb, LDC: n,
			StrideC: m * n,
		}
		if !sharedA {
			args.StrideA = ra * ca
		}
		if !sharedB {
			args.StrideB = rb * cb
		}
		a.dev.Gemm(args, a.buf, b.buf, out.buf)
	}
	record("MatMul", out, []*Tensor{a, b}, func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		if a.requiresGrad {
			// C = op(A)·op(B): dA = g·op(B)ᵀ (transposed back when A was).
			if transA {
				ga = bmm(b, g, transB, true, nb, nb) // op(B)·gᵀ = dAᵀ stored as A
			} else {
				ga = bmm(g, b, false, !transB, nb, nb)
			}
			ga = reduceShared(ga, a, sharedA, nb)
		}
		if b.requiresGrad {
			if transB {
				gb = bmm(g, a, true, transA, nb, nb) // gᵀ·op(A) = dBᵀ stored as B
			} else {
				gb = bmm(a, g, !transA, false, nb, nb)
			}
			gb = reduceShared(gb, b, sharedB, nb)
		}
		return []*Tensor{ga, gb}
	})
	return out
}

// reduceShared sums a per-batch gradient over the batch when the operand was
// shared across it, and gives it the operand's shape.
func reduceShared(g, x *Tensor, shared bool, nb int) *Tensor {
	if shared && g.Dim() == 3 && nb > 1 {
		g = g.Sum(0)
	}
	return g.Reshape(x.shape...)
}
