package autograd

import (
	"fmt"
	"sync/atomic"
	"weak"
)

// node is one recorded operation: the op's name, an edge per input and the
// rule that maps the gradient of its output to gradients of its inputs. A
// node refers to its inputs' producers, not to the input tensors, so an
// intermediate result is freed as soon as neither the program nor a
// backward rule that needs its values holds it.
type node struct {
	op       string
	out      *Tensor // set by RetainGrad only
	edges    []edge
	backward func(g *Tensor) []*Tensor
	released bool
	dims     [6]int
	shape    []int // the output's shape
	// outBuf is the output's CPU storage, held weakly so that the node
	// does not keep the output alive: Scope.Backward collects it if it is.
	outBuf weak.Pointer[cpuBuffer]
}

// edge links a node to one input: the node that produced it, or the leaf
// itself when it is a leaf that requires grad. An input that needs no
// gradient has a zero edge.
type edge struct {
	node *node
	leaf *Tensor
}

// gradDisabled counts nested no-grad scopes. The tape is single-goroutine
// (see the package doc), so a process-wide switch is what PyTorch offers too.
var gradDisabled atomic.Int32

// IsGradEnabled reports whether ops record the graph (true outside NoGrad).
func IsGradEnabled() bool { return gradDisabled.Load() == 0 }

// NoGrad runs fn with graph recording turned off, as torch.no_grad: results
// computed inside do not require grad. Use it for inference and for updating
// parameters.
func NoGrad(fn func()) {
	gradDisabled.Add(1)
	defer gradDisabled.Add(-1)
	fn()
}

// record attaches a node to out when gradients are enabled and some input
// requires them. backward receives the gradient of out (same shape) and
// returns one gradient per input, nil where an input needs none.
func record(op string, out *Tensor, inputs []*Tensor, backward func(g *Tensor) []*Tensor) {
	if !IsGradEnabled() {
		return
	}
	need := false
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			need = true
			break
		}
	}
	if !need {
		return
	}
	out.requiresGrad = true
	n := &node{op: op, backward: backward, edges: make([]edge, len(inputs))}
	if len(out.shape) <= len(n.dims) {
		n.shape = n.dims[:len(out.shape):len(out.shape)]
		copy(n.shape, out.shape)
	} else {
		n.shape = append([]int{}, out.shape...)
	}
	for i, in := range inputs {
		switch {
		case in == nil || !in.requiresGrad:
		case in.node != nil:
			n.edges[i].node = in.node
		default:
			n.edges[i].leaf = in
		}
	}
	if cb, ok := out.buf.(*cpuBuffer); ok && cb.n >= poolMinElems {
		// Only storage the pool would take back is worth the weak
		// pointer (about a microsecond).
		n.outBuf = weak.Make(cb)
	}
	out.node = n
}

// RequiresGrad reports whether gradients flow to or through the tensor.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetRequiresGrad marks a leaf tensor as a variable whose gradient Backward
// accumulates into Grad, and returns it. It panics on a tensor computed by a
// recorded op (use Detach first).
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	if t.node != nil {
		panic(fmt.Sprintf("autograd: SetRequiresGrad: tensor of shape %v is the output of %s, not a leaf; call Detach() first", t.shape, t.node.op))
	}
	t.requiresGrad = on
	return t
}

// IsLeaf reports whether the tensor was not produced by a recorded op.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// GradFn returns the name of the op that produced the tensor in the graph,
// or "" for a leaf.
func (t *Tensor) GradFn() string {
	if t.node == nil {
		return ""
	}
	return t.node.op
}

// RetainGrad asks Backward to store this non-leaf tensor's gradient in Grad.
func (t *Tensor) RetainGrad() *Tensor {
	t.retainGrad = true
	if t.node != nil {
		t.node.out = t
	}
	return t
}

// Detach returns a tensor that shares storage with t but is cut from the
// graph and does not require grad.
func (t *Tensor) Detach() *Tensor {
	markShared(t.buf)
	return newTensor(t.dev, t.buf, t.shape)
}

// ZeroGrad drops the accumulated gradient.
func (t *Tensor) ZeroGrad() { t.Grad = nil }

// ReleaseGrad drops the accumulated gradient like ZeroGrad and hands its
// storage back for reuse by the next gradients, as freeing torch's .grad
// does. The dropped Grad tensor must not be used afterwards (reading it
// panics; Clone it first to keep it). A gradient whose storage is viewed
// by another tensor (Reshape, Detach) or was handed out by HostData is
// only dropped. Optimizers' ZeroGrad calls it.
func (t *Tensor) ReleaseGrad() {
	g := t.Grad
	t.Grad = nil
	if g == nil {
		return
	}
	if cb, ok := g.buf.(*cpuBuffer); ok && cb.flags&(bufShared|bufEscaped) == 0 {
		cb.flags &^= bufKept | bufCollected
		cb.release()
	}
}

const releasedMsg = "autograd: Backward: the graph through %s has already been run backward and released; " +
	"recompute the forward pass, or pass retainGraph=true to BackwardWith on the first call"

// Backward computes the gradient of this scalar tensor with respect to every
// leaf that requires grad and accumulates it into their Grad fields. The
// graph is released afterwards. It panics on a tensor with more than one
// element (use BackwardWith with a seed gradient) and on a graph that has
// already been released.
func (t *Tensor) Backward() {
	if t.Numel() != 1 {
		panic(fmt.Sprintf("autograd: Backward: tensor of shape %v is not a scalar; pass a seed gradient of the same shape with BackwardWith", t.shape))
	}
	t.BackwardWith(nil, false)
}

// BackwardWith runs backward from t with seed as the gradient of t (ones
// when nil, allowed only for a one-element t). With retainGraph the graph is
// kept so that it can be run backward again.
func (t *Tensor) BackwardWith(seed *Tensor, retainGraph bool) {
	backward(t, seed, retainGraph, nil)
}

// backward is BackwardWith, collecting the graph's storage into s when s
// is not nil.
func backward(t, seed *Tensor, retainGraph bool, s *Scope) {
	if !t.requiresGrad {
		panic(fmt.Sprintf("autograd: Backward: tensor of shape %v does not require grad; no input was marked with SetRequiresGrad(true), or it was computed under NoGrad", t.shape))
	}
	if seed == nil {
		if t.Numel() != 1 {
			panic(fmt.Sprintf("autograd: Backward: tensor of shape %v is not a scalar; pass a seed gradient of the same shape", t.shape))
		}
		seed = FullOn(t.dev, 1, t.shape...)
	} else if !sameShape(seed.shape, t.shape) {
		panic(fmt.Sprintf("autograd: Backward: seed gradient of shape %v does not match tensor of shape %v", seed.shape, t.shape))
	} else if seed.dev != t.dev {
		panic(fmt.Sprintf("autograd: Backward: seed gradient on %s, tensor on %s", seed.dev.Name(), t.dev.Name()))
	} else {
		// The caller's seed may flow through pass-through rules unchanged;
		// a Scope must not collect it.
		keepBuf(seed.buf)
	}
	gradDisabled.Add(1)
	defer gradDisabled.Add(-1)

	if t.node == nil {
		accumulate(t, seed)
		return
	}
	order := topoOrder(t.node)
	grads := make(map[*node]*Tensor, len(order))
	grads[t.node] = seed
	// A leaf's first gradient adopts the storage a backward rule made for
	// it, instead of a copy, when that storage was made in this pass and
	// handed nowhere else (as torch steals the buffer of a gradient only
	// it holds). handed records the large buffers already passed on.
	start := allocSeq.Load()
	var handed map[*cpuBuffer]bool
	hand := func(b Buffer) (fresh bool) {
		cb, ok := b.(*cpuBuffer)
		if !ok || cb.n < poolMinElems {
			return false
		}
		if handed == nil {
			handed = map[*cpuBuffer]bool{}
		}
		fresh = cb.seq > start && !handed[cb]
		handed[cb] = true
		return fresh
	}
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		g := grads[n]
		delete(grads, n)
		if s != nil && !retainGraph {
			if cb := n.outBuf.Value(); cb != nil {
				s.collect(cb)
			}
		}
		if g != nil {
			if n.out != nil && n.out.retainGrad {
				accumulate(n.out, g)
			}
			ins := n.backward(g)
			for j, e := range n.edges {
				if (e.node == nil && e.leaf == nil) || j >= len(ins) || ins[j] == nil {
					continue
				}
				gi := ins[j]
				var shape []int
				if e.leaf != nil {
					shape = e.leaf.shape
				} else {
					shape = e.node.shape
				}
				if !sameShape(gi.shape, shape) {
					panic(fmt.Sprintf("autograd: internal error: backward of %s gave gradient of shape %v for input %d of shape %v", n.op, gi.shape, j, shape))
				}
				if s != nil {
					s.collect(gi.buf)
				}
				switch {
				case e.leaf != nil:
					if hand(gi.buf) && e.leaf.Grad == nil {
						e.leaf.Grad = gi
						keepBuf(gi.buf)
					} else {
						accumulate(e.leaf, gi)
					}
				case grads[e.node] != nil:
					hand(gi.buf)
					sum := grads[e.node].Add(gi)
					if s != nil {
						s.collect(sum.buf)
					}
					hand(sum.buf)
					grads[e.node] = sum
				default:
					hand(gi.buf)
					grads[e.node] = gi
				}
			}
		}
		if !retainGraph {
			n.released = true
			n.backward = nil
			n.edges = nil
		}
	}
}

// accumulate adds g into t.Grad, copying on first store so that no two
// tensors ever share a gradient buffer.
func accumulate(t *Tensor, g *Tensor) {
	if t.Grad == nil {
		t.Grad = g.copyData()
		keepBuf(t.Grad.buf)
		return
	}
	cs := contiguousStrides(t.shape)
	t.dev.Copy(t.shape, t.Grad.buf, Layout{Strides: cs}, g.buf, Layout{Strides: cs}, true)
}

// topoOrder returns the nodes reachable from root with every node after all
// the nodes that consume its output (root last), without recursion so that
// graphs of any depth work.
func topoOrder(root *node) []*node {
	type frame struct {
		n    *node
		next int
	}
	visited := map[*node]bool{root: true}
	var order []*node
	stack := []frame{{n: root}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.n.released {
			panic(fmt.Sprintf(releasedMsg, f.n.op))
		}
		if f.next < len(f.n.edges) {
			in := f.n.edges[f.next].node
			f.next++
			if in != nil && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{n: in})
			}
			continue
		}
		order = append(order, f.n)
		stack = stack[:len(stack)-1]
	}
	// order is a post-order (inputs first); walking it backwards visits each
	// node after all of its consumers.
	return order
}

// AddInPlace adds alpha·other (broadcast to t's shape) into t's own storage,
// as torch's add_(other, alpha=alpha), and returns t. It is meant for
// parameter updates: call it under NoGrad on a leaf. It panics on a tensor
// produced by a recorded op, and on a leaf that requires grad while
// gradients are being recorded, because backward rules may have saved the
// old values.
func (t *Tensor) AddInPlace(other *Tensor, alpha float32) *Tensor {
	t.checkInPlace("AddInPlace", other)
	src := other
	if alpha != 1 {
		src = newTensor(other.dev, other.dev.Alloc(other.Numel()), other.shape)
		other.dev.Unary(OpMulScalar, OpParams{A: alpha}, src.buf, other.buf)
	}
	t.dev.Copy(t.shape, t.buf, Layout{Strides: contiguousStrides(t.shape)}, src.buf, broadcastLayout(src.shape, t.shape), true)
	return t
}

// CopyFrom overwrites t's storage with src (broadcast to t's shape), as
// torch's copy_, and returns t. The same rules as AddInPlace apply: use it
// under NoGrad on a leaf (optimizer updates, loading weights).
func (t *Tensor) CopyFrom(src *Tensor) *Tensor {
	t.checkInPlace("CopyFrom", src)
	t.dev.Copy(t.shape, t.buf, Layout{Strides: contiguousStrides(t.shape)}, src.buf, broadcastLayout(src.shape, t.shape), false)
	return t
}

func (t *Tensor) checkInPlace(op string, other *Tensor) {
	if t.node != nil {
		panic(fmt.Sprintf("autograd: %s: tensor of shape %v is the output of %s; in-place updates are only for leaves", op, t.shape, t.node.op))
	}
	if t.requiresGrad && IsGradEnabled() {
		panic(fmt.Sprintf("autograd: %s: leaf of shape %v requires grad; update it inside NoGrad", op, t.shape))
	}
	sameDevice(op, t, other)
	if !sameShape(BroadcastShapes(op, t.shape, other.shape), t.shape) {
		panic(fmt.Sprintf("autograd: %s: shape %v does not broadcast to %v", op, other.shape, t.shape))
	}
}
