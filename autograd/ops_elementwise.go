package autograd

import (
	"fmt"
	"math"
)

// sameDevice panics when the tensors of one op live on different devices.
func sameDevice(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		if t.dev != ts[0].dev {
			panic(fmt.Sprintf("autograd: %s: tensors on different devices (%s and %s); move them with To first", op, ts[0].dev.Name(), t.dev.Name()))
		}
	}
}

// BroadcastShapes returns the NumPy broadcast of the given shapes, panicking
// with op's name when they are incompatible.
func BroadcastShapes(op string, shapes ...[]int) []int {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case o == d || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				panic(fmt.Sprintf("autograd: %s: shapes %v are not broadcastable", op, shapesList(shapes)))
			}
		}
	}
	return out
}

func shapesList(shapes [][]int) string {
	s := ""
	for i, sh := range shapes {
		if i > 0 {
			if i == len(shapes)-1 {
				s += " and "
			} else {
				s += ", "
			}
		}
		s += fmt.Sprint(sh)
	}
	return s
}

// broadcastLayout views a contiguous tensor of shape src as shape out
// (which src broadcasts to): missing leading and size-1 dims get stride 0.
func broadcastLayout(src, out []int) Layout {
	st := make([]int, len(out))
	cs := contiguousStrides(src)
	off := len(out) - len(src)
	for i := range src {
		if src[i] != 1 || out[off+i] == 1 {
			st[off+i] = cs[i]
		}
	}
	return Layout{Strides: st}
}

// sumTo reduces a gradient of a broadcast result back to shape (the
// gradient of broadcasting).
func sumTo(g *Tensor, shape []int) *Tensor {
	if sameShape(g.shape, shape) {
		return g
	}
	var axes []int
	lead := len(g.shape) - len(shape)
	for i := 0; i < len(g.shape); i++ {
		if i < lead || (shape[i-lead] == 1 && g.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return g.Reshape(shape...)
	}
	return g.reduce("Sum", ReduceSum, axes, true).Reshape(shape...)
}

// unary applies an elementwise function with its derivative as backward.
func (t *Tensor) unary(op UnaryOp, p OpParams) *Tensor {
	out := output(t.dev, t.shape)
	t.dev.Unary(op, p, out.buf, t.buf)
	// Keep only the forward values the derivative reads, so that, e.g., the
	// input of a MulScalar can be freed before backward.
	var xb, yb Buffer
	switch usesX, usesY := unaryUses(op); {
	case usesX:
		xb = t.buf
	case usesY:
		yb = out.buf
	}
	record(op.String(), out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		dx := output(g.dev, g.shape)
		g.dev.UnaryGrad(op, p, dx.buf, g.buf, xb, yb)
		return []*Tensor{dx}
	})
	return out
}

// unaryUses reports which forward values op's derivative reads: the input
// x, the output y, or neither. Device.UnaryGrad receives nil for the others.
func unaryUses(op UnaryOp) (x, y bool) {
	switch op {
	case OpNeg, OpAddScalar, OpMulScalar, OpSign:
		return false, false
	case OpExp, OpSqrt, OpRsqrt, OpTanh, OpSigmoid, OpReciprocal:
		return false, true
	}
	return true, false
}

// Neg returns −x.
func (t *Tensor) Neg() *Tensor { return t.unary(OpNeg, OpParams{}) }

// Exp returns e^x elementwise.
func (t *Tensor) Exp() *Tensor { return t.unary(OpExp, OpParams{}) }

// Log returns the natural logarithm elementwise.
func (t *Tensor) Log() *Tensor { return t.unary(OpLog, OpParams{}) }

// Sqrt returns √x elementwise.
func (t *Tensor) Sqrt() *Tensor { return t.unary(OpSqrt, OpParams{}) }

// Rsqrt returns 1/√x elementwise.
func (t *Tensor) Rsqrt() *Tensor { return t.unary(OpRsqrt, OpParams{}) }

// Abs returns |x| elementwise (gradient sign(x), 0 at 0).
func (t *Tensor) Abs() *Tensor { return t.unary(OpAbs, OpParams{}) }

// Sin returns sin x elementwise.
func (t *Tensor) Sin() *Tensor { return t.unary(OpSin, OpParams{}) }

// Cos returns cos x elementwise.
func (t *Tensor) Cos() *Tensor { return t.unary(OpCos, OpParams{}) }

// Tanh returns tanh x elementwise.
func (t *Tensor) Tanh() *Tensor { return t.unary(OpTanh, OpParams{}) }

// Sigmoid returns 1/(1+e^−x) elementwise.
func (t *Tensor) Sigmoid() *Tensor { return t.unary(OpSigmoid, OpParams{}) }

// Relu returns max(x, 0) elementwise.
func (t *Tensor) Relu() *Tensor { return t.unary(OpRelu, OpParams{}) }

// LeakyRelu returns x where x > 0 and slope·x elsewhere (torch's default
// slope is 0.01).
func (t *Tensor) LeakyRelu(slope float32) *Tensor {
	return t.unary(OpLeakyRelu, OpParams{A: slope})
}

// Gelu returns the exact GELU, x·Φ(x) with Φ from erf (torch's default).
func (t *Tensor) Gelu() *Tensor { return t.unary(OpGeluErf, OpParams{}) }

// GeluTanh returns GELU's tanh approximation (torch approximate='tanh').
func (t *Tensor) GeluTanh() *Tensor { return t.unary(OpGeluTanh, OpParams{}) }

// Silu returns x·σ(x) (also called swish).
func (t *Tensor) Silu() *Tensor { return t.unary(OpSilu, OpParams{}) }

// Softplus returns log(1+e^x), linear above x = 20, as torch's defaults.
func (t *Tensor) Softplus() *Tensor { return t.SoftplusWith(1, 20) }

// SoftplusWith returns (1/beta)·log(1+e^(beta·x)), and x where beta·x >
// threshold.
func (t *Tensor) SoftplusWith(beta, threshold float32) *Tensor {
	if beta == 0 {
		panic("autograd: Softplus: beta must be non-zero")
	}
	return t.unary(OpSoftplus, OpParams{A: beta, B: threshold})
}

// Elu returns x where x > 0 and alpha·(e^x − 1) elsewhere.
func (t *Tensor) Elu(alpha float32) *Tensor { return t.unary(OpElu, OpParams{A: alpha}) }

// PowScalar returns x^p elementwise.
func (t *Tensor) PowScalar(p float32) *Tensor {
	switch p {
	case 1:
		return t.unary(OpMulScalar, OpParams{A: 1})
	case 2:
		return t.unary(OpSquare, OpParams{})
	}
	return t.unary(OpPowScalar, OpParams{A: p})
}

// Square returns x² elementwise.
func (t *Tensor) Square() *Tensor { return t.unary(OpSquare, OpParams{}) }

// Reciprocal returns 1/x elementwise.
func (t *Tensor) Reciprocal() *Tensor { return t.unary(OpReciprocal, OpParams{}) }

// Sign returns −1, 0 or 1 elementwise; its gradient is zero.
func (t *Tensor) Sign() *Tensor { return t.unary(OpSign, OpParams{}) }

// Clamp limits every element to [lo, hi]; pass ±Inf (float32(math.Inf(1)))
// for a one-sided clamp. The gradient passes where lo ≤ x ≤ hi.
func (t *Tensor) Clamp(lo, hi float32) *Tensor {
	if lo > hi {
		panic(fmt.Sprintf("autograd: Clamp: lo %v is greater than hi %v", lo, hi))
	}
	return t.unary(OpClamp, OpParams{A: lo, B: hi})
}

// AddScalar returns x + v.
func (t *Tensor) AddScalar(v float32) *Tensor { return t.unary(OpAddScalar, OpParams{A: v}) }

// SubScalar returns x − v.
func (t *Tensor) SubScalar(v float32) *Tensor { return t.unary(OpAddScalar, OpParams{A: -v}) }

// MulScalar returns v·x.
func (t *Tensor) MulScalar(v float32) *Tensor { return t.unary(OpMulScalar, OpParams{A: v}) }

// DivScalar returns x / v.
func (t *Tensor) DivScalar(v float32) *Tensor { return t.Div(FullOn(t.dev, v)) }

// binary runs a broadcasting kernel without recording.
func binaryForward(name string, op BinaryOp, a, b *Tensor) *Tensor {
	sameDevice(name, a, b)
	shape := BroadcastShapes(name, a.shape, b.shape)
	checkRank(name, shape)
	out := output(a.dev, shape)
	a.dev.Binary(op, shape, out.buf, a.buf, broadcastLayout(a.shape, shape), b.buf, broadcastLayout(b.shape, shape))
	return out
}

// Add returns a + b with broadcasting.
func (t *Tensor) Add(b *Tensor) *Tensor {
	out := binaryForward("Add", OpAdd, t, b)
	ra, rb := gradShape(t, out), gradShape(b, out)
	record("Add", out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{ra.of(g, false), rb.of(g, false)}
	})
	return out
}

// Sub returns a − b with broadcasting.
func (t *Tensor) Sub(b *Tensor) *Tensor {
	out := binaryForward("Sub", OpSub, t, b)
	ra, rb := gradShape(t, out), gradShape(b, out)
	record("Sub", out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{ra.of(g, false), rb.of(g, true)}
	})
	return out
}

// reducedGrad remembers, for an input of a linear op, whether it needs a
// gradient and the shape to reduce the output gradient to, without keeping
// the input itself (and its storage) alive.
type reducedGrad struct {
	need  bool
	shape []int // nil when the input has the output's shape
}

func gradShape(in, out *Tensor) reducedGrad {
	r := reducedGrad{need: in.requiresGrad}
	if r.need && !sameShape(in.shape, out.shape) {
		r.shape = append([]int{}, in.shape...)
	}
	return r
}

// of returns g (negated when neg) reduced to the input's shape, or nil when
// the input needs no gradient.
func (r reducedGrad) of(g *Tensor, neg bool) *Tensor {
	if !r.need {
		return nil
	}
	if neg {
		g = g.Neg()
	}
	if r.shape == nil {
		return g
	}
	return sumTo(g, r.shape)
}

// Mul returns a·b elementwise with broadcasting.
func (t *Tensor) Mul(b *Tensor) *Tensor {
	out := binaryForward("Mul", OpMul, t, b)
	record("Mul", out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{
			gradIf(t, func() *Tensor { return sumTo(g.Mul(b), t.shape) }),
			gradIf(b, func() *Tensor { return sumTo(g.Mul(t), b.shape) }),
		}
	})
	return out
}

// Div returns a / b elementwise with broadcasting.
func (t *Tensor) Div(b *Tensor) *Tensor {
	out := binaryForward("Div", OpDiv, t, b)
	record("Div", out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{
			gradIf(t, func() *Tensor { return sumTo(g.Div(b), t.shape) }),
			gradIf(b, func() *Tensor { return sumTo(g.Mul(out).Div(b).Neg(), b.shape) }),
		}
	})
	return out
}

// Pow returns a^b elementwise with broadcasting. The gradient with respect
// to b is taken as 0 where a is 0, as torch does.
func (t *Tensor) Pow(b *Tensor) *Tensor {
	out := binaryForward("Pow", OpPow, t, b)
	record("Pow", out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		return []*Tensor{
			gradIf(t, func() *Tensor {
				// b·a^(b−1); where b == 0 the gradient is 0 even at a = 0.
				d := b.Mul(binaryForward("Pow", OpPow, t, b.AddScalar(-1)))
				d = Where(b.Eq(FullOn(b.dev, 0)), FullOn(b.dev, 0), d)
				return sumTo(g.Mul(d), t.shape)
			}),
			gradIf(b, func() *Tensor {
				la := Where(t.Eq(FullOn(t.dev, 0)), FullOn(t.dev, 0), t.Log())
				return sumTo(g.Mul(out).Mul(la), b.shape)
			}),
		}
	})
	return out
}

// Maximum returns the elementwise maximum with broadcasting; ties split the
// gradient evenly, as torch.maximum.
func (t *Tensor) Maximum(b *Tensor) *Tensor { return t.minmax("Maximum", OpMaximum, OpGt, b) }

// Minimum returns the elementwise minimum with broadcasting; ties split the
// gradient evenly, as torch.minimum.
func (t *Tensor) Minimum(b *Tensor) *Tensor { return t.minmax("Minimum", OpMinimum, OpLt, b) }

func (t *Tensor) minmax(name string, op, wins BinaryOp, b *Tensor) *Tensor {
	out := binaryForward(name, op, t, b)
	record(name, out, []*Tensor{t, b}, func(g *Tensor) []*Tensor {
		half := binaryForward(name, OpEq, t, b).MulScalar(0.5)
		return []*Tensor{
			gradIf(t, func() *Tensor { return sumTo(g.Mul(binaryForward(name, wins, t, b).Add(half)), t.shape) }),
			gradIf(b, func() *Tensor { return sumTo(g.Mul(binaryForward(name, wins, b, t).Add(half)), b.shape) }),
		}
	})
	return out
}

// gradIf computes an input's gradient only when that input needs one.
func gradIf(t *Tensor, f func() *Tensor) *Tensor {
	if !t.requiresGrad {
		return nil
	}
	return f()
}

// Eq returns a mask, 1 where a == b (broadcast) and 0 elsewhere; masks carry
// no gradient.
func (t *Tensor) Eq(b *Tensor) *Tensor { return binaryForward("Eq", OpEq, t, b) }

// Ne returns a mask, 1 where a ≠ b.
func (t *Tensor) Ne(b *Tensor) *Tensor { return binaryForward("Ne", OpNe, t, b) }

// Lt returns a mask, 1 where a < b.
func (t *Tensor) Lt(b *Tensor) *Tensor { return binaryForward("Lt", OpLt, t, b) }

// Le returns a mask, 1 where a ≤ b.
func (t *Tensor) Le(b *Tensor) *Tensor { return binaryForward("Le", OpLe, t, b) }

// Gt returns a mask, 1 where a > b.
func (t *Tensor) Gt(b *Tensor) *Tensor { return binaryForward("Gt", OpGt, t, b) }

// Ge returns a mask, 1 where a ≥ b.
func (t *Tensor) Ge(b *Tensor) *Tensor { return binaryForward("Ge", OpGe, t, b) }

// Where returns a where mask is non-zero and b elsewhere, all three
// broadcast together; the gradient flows to a and b (not to mask).
func Where(mask, a, b *Tensor) *Tensor {
	sameDevice("Where", mask, a, b)
	shape := BroadcastShapes("Where", mask.shape, a.shape, b.shape)
	checkRank("Where", shape)
	out := output(a.dev, shape)
	a.dev.Where(shape, out.buf, mask.buf, broadcastLayout(mask.shape, shape), a.buf, broadcastLayout(a.shape, shape), b.buf, broadcastLayout(b.shape, shape))
	record("Where", out, []*Tensor{a, b}, func(g *Tensor) []*Tensor {
		zero := FullOn(g.dev, 0)
		return []*Tensor{
			gradIf(a, func() *Tensor { return sumTo(Where(mask, g, zero), a.shape) }),
			gradIf(b, func() *Tensor { return sumTo(Where(mask, zero, g), b.shape) }),
		}
	})
	return out
}

// inf32 is +Inf as float32.
var inf32 = float32(math.Inf(1))
