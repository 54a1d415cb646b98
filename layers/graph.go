package layers

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// This file holds the graph layers of spatio-temporal forecasters, after
// TorchSpatiotemporal/tsl (tsl/nn/layers/graph_convs, tsl/ops/connectivity,
// tsl/nn/layers/base/temporal_conv.py) and PyTorch Geometric's gcn_norm:
// graph convolution with GCN, symmetric or mean normalisation (GraphConv),
// diffusion convolution (DiffConv, DCRNN), the learned adjacency and the
// dense K-order graph convolution of Graph WaveNet (AdaptiveAdjacency,
// DenseGraphConv), and the gated temporal convolution (GatedTemporalConv).
// State_dict names are tsl's.
//
// Sparse graphs are edge lists. Messages are gathered with IndexSelect,
// weighted, and summed per receiving node with SegmentSum, so memory and
// time grow with the number of edges, not nodes²: a graph of 10,000 nodes
// and 100,000 edges with 64 features per node takes a few milliseconds.

// Graph is a directed graph with weighted edges, in PyTorch Geometric's
// convention: edge e carries a message from node Src[e] to node Dst[e]
// (edge_index[0] and edge_index[1]), weighted by Weight[e]. Nodes are
// numbered 0..NumNodes−1. A nil Weight means every weight is 1. Weight may
// require grad: every normalisation below is differentiable in it.
//
// The node features a graph layer takes have the nodes on their
// second-to-last dimension: [N, F], [B, N, F] or [B, T, N, F].
type Graph struct {
	// NumNodes is N.
	NumNodes int
	// Src and Dst hold each edge's source and destination node.
	Src, Dst []int
	// Weight holds the edge weights, shape [E], or is nil.
	Weight *autograd.Tensor
}

// NewGraph returns the graph on numNodes nodes with the given edges
// (source, destination) and weights ([E] or nil). It panics on a node out
// of range or a weight of the wrong shape.
func NewGraph(numNodes int, edges [][2]int, weight *autograd.Tensor) *Graph {
	g := &Graph{NumNodes: numNodes, Src: make([]int, len(edges)), Dst: make([]int, len(edges)), Weight: weight}
	for e, p := range edges {
		g.Src[e], g.Dst[e] = p[0], p[1]
	}
	g.check("NewGraph")
	return g
}

// NewGraphFromEdgeIndex returns the graph of a PyTorch Geometric edge_index
// tensor of shape [2, E] flattened in row-major order: the E sources, then
// the E destinations (edge_index.flatten().tolist()).
func NewGraphFromEdgeIndex(numNodes int, edgeIndex []int, weight *autograd.Tensor) *Graph {
	if len(edgeIndex)%2 != 0 {
		panic(fmt.Sprintf("layers: NewGraphFromEdgeIndex: %d indices do not make a [2, E] edge_index", len(edgeIndex)))
	}
	e := len(edgeIndex) / 2
	g := &Graph{NumNodes: numNodes, Src: append([]int(nil), edgeIndex[:e]...), Dst: append([]int(nil), edgeIndex[e:]...), Weight: weight}
	g.check("NewGraphFromEdgeIndex")
	return g
}

// NewGraphFromDense returns the graph of a dense adjacency matrix adj
// ([N, N]) as tsl's adj_to_edge_index reads it: every non-zero adj[i, j]
// becomes an edge j → i of that weight, listed by source, so that Dense
// gives adj back and Propagate(x) is adj·x. For a traffic network whose
// adj[i, j] weighs the road from sensor i to sensor j, the mean-normalised
// graph is then DCRNN's forward transition D_out⁻¹·adj. The weights are a
// copy, outside the graph of adj.
func NewGraphFromDense(adj *autograd.Tensor) *Graph {
	if adj.Dim() != 2 || adj.Size(0) != adj.Size(1) {
		panic(fmt.Sprintf("layers: NewGraphFromDense: adjacency %v is not square", adj.Shape()))
	}
	n := adj.Size(0)
	a := adj.Data()
	g := &Graph{NumNodes: n}
	var w []float32
	for j := range n {
		for i := range n {
			if v := a[i*n+j]; v != 0 {
				g.Src = append(g.Src, j)
				g.Dst = append(g.Dst, i)
				w = append(w, v)
			}
		}
	}
	g.Weight = autograd.New(w, len(w)).To(adj.Device())
	return g
}

func (g *Graph) check(op string) {
	if g.NumNodes < 0 {
		panic(fmt.Sprintf("layers: %s: negative number of nodes %d", op, g.NumNodes))
	}
	if len(g.Src) != len(g.Dst) {
		panic(fmt.Sprintf("layers: %s: %d sources but %d destinations", op, len(g.Src), len(g.Dst)))
	}
	for e := range g.Src {
		if s, d := g.Src[e], g.Dst[e]; s < 0 || s >= g.NumNodes || d < 0 || d >= g.NumNodes {
			panic(fmt.Sprintf("layers: %s: edge %d (%d → %d) is outside nodes 0..%d", op, e, s, d, g.NumNodes-1))
		}
	}
	if g.Weight != nil && (g.Weight.Dim() != 1 || g.Weight.Size(0) != len(g.Src)) {
		panic(fmt.Sprintf("layers: %s: edge weights %v for %d edges; want [%d]", op, g.Weight.Shape(), len(g.Src), len(g.Src)))
	}
}

// NumEdges returns E.
func (g *Graph) NumEdges() int { return len(g.Src) }

// Transpose returns the graph with every edge reversed (same weights).
func (g *Graph) Transpose() *Graph {
	return &Graph{NumNodes: g.NumNodes, Src: g.Dst, Dst: g.Src, Weight: g.Weight}
}

// graphWeight returns the edge weights, ones on dev when there are none.
func (g *Graph) graphWeight(dev autograd.Device) *autograd.Tensor {
	if g.Weight != nil {
		return g.Weight
	}
	return autograd.FullOn(dev, 1, len(g.Src))
}

// GraphNorm is how a graph's edge weights are normalised before messages
// are passed.
type GraphNorm int

// The normalisations of tsl's normalize_connectivity. In the formulas,
// w_e is the weight of edge e = (j → i) and deg(i) = Σ of w over the edges
// into i (the weighted in-degree); a node without incoming weight gets a
// zero factor instead of 1/0.
const (
	// GraphNormMean divides each weight by its destination's degree,
	// w_e / deg(i), so every node averages its in-neighbours (tsl's
	// 'mean' and 'asym'). The rows of the propagation matrix sum to 1: a
	// constant signal stays constant.
	GraphNormMean GraphNorm = iota
	// GraphNormGCN adds a self-loop of weight 1 to every node that has
	// none (keeping the weight of those that do) and normalises
	// symmetrically, w_e / √(deg(i)·deg(j)): Kipf and Welling's GCN, PyG's
	// gcn_norm with add_self_loops (tsl's 'gcn').
	GraphNormGCN
	// GraphNormSym normalises symmetrically without adding self-loops
	// (tsl's 'sym').
	GraphNormSym
	// GraphNormNone uses the weights as they are (tsl's 'none').
	GraphNormNone
)

// String names the normalisation as tsl does.
func (n GraphNorm) String() string {
	switch n {
	case GraphNormMean:
		return "mean"
	case GraphNormGCN:
		return "gcn"
	case GraphNormSym:
		return "sym"
	case GraphNormNone:
		return "none"
	}
	return fmt.Sprintf("GraphNorm(%d)", int(n))
}

// Normalize returns the graph with its weights normalised by norm (with
// self-loops added for GraphNormGCN). The new weights are computed with
// autograd ops, so gradients flow back to g.Weight when it requires grad.
// The returned graph lists its edges grouped by destination (in their
// original order within each destination), which makes Propagate faster;
// the operator is the same.
func (g *Graph) Normalize(norm GraphNorm) *Graph {
	dev := autograd.CPU
	if g.Weight != nil {
		dev = g.Weight.Device()
	}
	return g.normalize(norm, dev)
}

func (g *Graph) normalize(norm GraphNorm, dev autograd.Device) *Graph {
	switch norm {
	case GraphNormNone:
		h := g.byDst()
		return &Graph{NumNodes: h.NumNodes, Src: h.Src, Dst: h.Dst, Weight: h.graphWeight(dev)}
	case GraphNormMean:
		h := g.byDst()
		w := h.graphWeight(dev)
		inv := graphInvDegree(w, h.Dst, h.NumNodes, false)
		return &Graph{NumNodes: h.NumNodes, Src: h.Src, Dst: h.Dst, Weight: w.Mul(inv.IndexSelect(0, h.Dst))}
	case GraphNormGCN, GraphNormSym:
		h := g
		if norm == GraphNormGCN {
			h = g.withSelfLoops(dev)
		}
		h = h.byDst()
		w := h.graphWeight(dev)
		inv := graphInvDegree(w, h.Dst, h.NumNodes, true)
		w = inv.IndexSelect(0, h.Src).Mul(w).Mul(inv.IndexSelect(0, h.Dst))
		return &Graph{NumNodes: h.NumNodes, Src: h.Src, Dst: h.Dst, Weight: w}
	}
	panic(fmt.Sprintf("layers: Graph.Normalize: unknown normalisation %d", int(norm)))
}

// byDst returns the graph with its edges grouped by destination, keeping
// their order within each destination (g itself when they already are):
// SegmentSum then reads the messages sequentially.
func (g *Graph) byDst() *Graph {
	if slices.IsSorted(g.Dst) {
		return g
	}
	n := g.NumNodes
	start := make([]int, n+1)
	for _, d := range g.Dst {
		start[d+1]++
	}
	for i := range n {
		start[i+1] += start[i]
	}
	order := make([]int, len(g.Dst))
	for e, d := range g.Dst {
		order[start[d]] = e
		start[d]++
	}
	h := &Graph{NumNodes: n, Src: make([]int, len(order)), Dst: make([]int, len(order))}
	for k, e := range order {
		h.Src[k], h.Dst[k] = g.Src[e], g.Dst[e]
	}
	if g.Weight != nil {
		h.Weight = g.Weight.IndexSelect(0, order)
	}
	return h
}

// graphInvDegree returns 1/deg (or 1/√deg) per node for the weighted
// in-degree deg over dst, and 0 where deg ≤ 0.
func graphInvDegree(w *autograd.Tensor, dst []int, n int, sqrt bool) *autograd.Tensor {
	deg := autograd.SegmentSum(w, dst, n)
	mask := deg.Gt(autograd.ZerosLike(deg))
	safe := autograd.Where(mask, deg, autograd.OnesLike(deg))
	if sqrt {
		return safe.Rsqrt().Mul(mask)
	}
	return safe.Reciprocal().Mul(mask)
}

// withSelfLoops is PyG's add_remaining_self_loops with fill value 1: the
// edges that are not self-loops, in order, then one self-loop per node
// 0..N−1 whose weight is the existing self-loop's (summed if a node has
// several) or 1.
func (g *Graph) withSelfLoops(dev autograd.Device) *Graph {
	n := g.NumNodes
	var keep, loopEdges, loopNodes []int
	fill := make([]float32, n)
	for i := range fill {
		fill[i] = 1
	}
	for e := range g.Src {
		if g.Src[e] == g.Dst[e] {
			loopEdges = append(loopEdges, e)
			loopNodes = append(loopNodes, g.Src[e])
			fill[g.Src[e]] = 0
		} else {
			keep = append(keep, e)
		}
	}
	h := &Graph{NumNodes: n, Src: make([]int, 0, len(keep)+n), Dst: make([]int, 0, len(keep)+n)}
	for _, e := range keep {
		h.Src = append(h.Src, g.Src[e])
		h.Dst = append(h.Dst, g.Dst[e])
	}
	for i := range n {
		h.Src = append(h.Src, i)
		h.Dst = append(h.Dst, i)
	}
	loopW := autograd.New(fill, n).To(dev)
	if g.Weight == nil {
		h.Weight = autograd.FullOn(dev, 1, len(h.Src))
		return h
	}
	if len(loopEdges) > 0 {
		loopW = loopW.IndexAdd(0, loopNodes, g.Weight.IndexSelect(0, loopEdges))
	}
	h.Weight = autograd.Concat([]*autograd.Tensor{g.Weight.IndexSelect(0, keep), loopW}, 0)
	return h
}

// Propagate passes messages along the edges: for x of shape [..., N, F],
//
//	out[..., i, :] = Σ over edges e = (j → i) of Weight[e] · x[..., j, :]
//
// (PyG's propagate with 'add' aggregation). Nodes without incoming edges
// get zeros. It is differentiable in x and in the weights.
func (g *Graph) Propagate(x *autograd.Tensor) *autograd.Tensor {
	g.checkInput("Graph.Propagate", x)
	return graphNodesBack(graphRows(graphNodesFirst(x), g))
}

// Dense returns the propagation matrix A ([N, N], A[i, j] = Σ of the
// weights of the edges j → i), so that Propagate(x) equals A·x. It is
// differentiable in the weights; use it for small graphs and tests.
func (g *Graph) Dense() *autograd.Tensor {
	n := g.NumNodes
	dev := autograd.CPU
	if g.Weight != nil {
		dev = g.Weight.Device()
	}
	idx := make([]int, len(g.Src))
	for e := range idx {
		idx[e] = g.Dst[e]*n + g.Src[e]
	}
	return autograd.ZerosOn(dev, n*n).IndexAdd(0, idx, g.graphWeight(dev)).Reshape(n, n)
}

func (g *Graph) checkInput(op string, x *autograd.Tensor) {
	if len(g.Src) != len(g.Dst) {
		panic(fmt.Sprintf("layers: %s: graph with %d sources but %d destinations", op, len(g.Src), len(g.Dst)))
	}
	if x.Dim() < 2 || x.Size(-2) != g.NumNodes {
		panic(fmt.Sprintf("layers: %s: input of shape %v does not have the graph's %d nodes on its second-to-last dimension", op, x.Shape(), g.NumNodes))
	}
}

// graphNodesFirst moves the node dimension (−2) of x to the front:
// [..., N, F] becomes [N, ..., F].
func graphNodesFirst(x *autograd.Tensor) *autograd.Tensor {
	d := x.Dim()
	if d == 2 {
		return x
	}
	perm := make([]int, d)
	perm[0] = d - 2
	for i := 1; i < d-1; i++ {
		perm[i] = i - 1
	}
	perm[d-1] = d - 1
	return x.Permute(perm...)
}

// graphNodesBack undoes graphNodesFirst: [N, ..., F] becomes [..., N, F].
func graphNodesBack(x *autograd.Tensor) *autograd.Tensor {
	d := x.Dim()
	if d == 2 {
		return x
	}
	perm := make([]int, d)
	for i := 0; i < d-2; i++ {
		perm[i] = i + 1
	}
	perm[d-2] = 0
	perm[d-1] = d - 1
	return x.Permute(perm...)
}

// graphRows propagates node-major features x ([N, ...]): gather the rows of
// the sources, weigh them, and sum them per destination.
func graphRows(x *autograd.Tensor, g *Graph) *autograd.Tensor {
	n := g.NumNodes
	shape := x.Shape()
	r := 1
	for _, s := range shape[1:] {
		r *= s
	}
	msg := x.Reshape(n, r).IndexSelect(0, g.Src)
	if g.Weight != nil {
		msg = msg.Mul(g.Weight.Reshape(len(g.Src), 1))
	}
	return autograd.SegmentSum(msg, g.Dst, n).Reshape(shape...)
}

// GraphConvConfig holds GraphConv's options; the zero value is tsl's
// GraphConv default: mean normalisation, root weight and bias.
type GraphConvConfig struct {
	// Norm normalises the edge weights (GraphNormGCN for Kipf and
	// Welling's GCN).
	Norm GraphNorm
	// NoRootWeight leaves out the separate linear map of each node's own
	// features (root_weight=False).
	NoRootWeight bool
	// NoBias leaves out the bias.
	NoBias bool
}

// GraphConv is tsl's GraphConv, a graph convolution over a sparse graph:
//
//	out = Â·(x·Θᵀ) + x·Θ_rootᵀ + b
//
// with Â the graph normalised by Norm (see GraphNorm and
// Graph.Propagate). With GraphNormGCN and no root weight it is PyG's
// GCNConv. Its state_dict names are "lin.weight", "root_lin.weight" and
// "bias"; Lin and RootLin are initialised as torch.nn.Linear, the bias is
// zero.
type GraphConv struct {
	// Lin is Θ, applied before the messages are passed (no bias).
	Lin *nn.Linear
	// RootLin is Θ_root (no bias); nil without root weight.
	RootLin *nn.Linear
	// Bias is b ([out]); nil without bias.
	Bias *nn.Parameter
	// Norm normalises the graph's weights on every call.
	Norm GraphNorm
}

// NewGraphConv returns a GraphConv from in to out features, its weights
// drawn from rng (Lin, then RootLin).
func NewGraphConv(rng *autograd.RNG, in, out int, cfg GraphConvConfig) *GraphConv {
	c := &GraphConv{Lin: nn.NewLinear(rng, in, out, false), Norm: cfg.Norm}
	if !cfg.NoRootWeight {
		c.RootLin = nn.NewLinear(rng, in, out, false)
	}
	if !cfg.NoBias {
		c.Bias = nn.NewParameter(autograd.Zeros(out))
	}
	return c
}

// Forward convolves x ([..., N, in]) over g and returns [..., N, out].
func (c *GraphConv) Forward(x *autograd.Tensor, g *Graph) *autograd.Tensor {
	g.checkInput("GraphConv", x)
	out := g.normalize(c.Norm, x.Device()).Propagate(c.Lin.Forward(x))
	if c.RootLin != nil {
		out = out.Add(c.RootLin.Forward(x))
	}
	if c.Bias != nil {
		out = out.Add(c.Bias.Tensor)
	}
	return out
}

// DiffConvConfig holds DiffConv's options; the zero value is tsl's
// default: root weight, backward diffusion and bias.
type DiffConvConfig struct {
	// NoRootWeight leaves out the 0-hop term x itself.
	NoRootWeight bool
	// NoBackward leaves out the reversed graph's K terms.
	NoBackward bool
	// NoBias leaves out the bias of Filters.
	NoBias bool
}

// DiffConv is the diffusion convolution of DCRNN (Li et al., ICLR 2018) as
// tsl's DiffConv computes it: with P_f the graph normalised by
// destination degree (GraphNormMean: each node averages its in-neighbours)
// and P_b the same for the reversed graph,
//
//	out = Filters([x, P_f x, …, P_f^K x, P_b x, …, P_b^K x])
//
// where the terms are concatenated on the feature dimension and Filters is
// one Linear from (2K+1)·in to out features (K+1 terms without backward
// diffusion, one fewer without the root term). For a graph built by
// NewGraphFromDense from an adjacency W, P_f = D_out⁻¹·W and
// P_b = D_in⁻¹·Wᵀ as in DCRNN. The rows of P_f and P_b sum to 1, so a constant signal maps to a constant (at nodes with
// incoming, respectively outgoing, edges). Its state_dict names are
// "filters.weight" and "filters.bias".
type DiffConv struct {
	// Filters maps the concatenated terms to the output features.
	Filters *nn.Linear
	// K is the number of diffusion steps per direction.
	K int
	// RootWeight includes x itself as the first term.
	RootWeight bool
	// AddBackward includes the K steps over the reversed graph.
	AddBackward bool
}

// NewDiffConv returns a DiffConv from in to out features over k hops; the
// filters are initialised as torch.nn.Linear from rng.
func NewDiffConv(rng *autograd.RNG, in, out, k int, cfg DiffConvConfig) *DiffConv {
	if k < 1 {
		panic(fmt.Sprintf("layers: NewDiffConv: k=%d; need at least one hop", k))
	}
	d := &DiffConv{K: k, RootWeight: !cfg.NoRootWeight, AddBackward: !cfg.NoBackward}
	d.Filters = nn.NewLinear(rng, in*d.numTerms(), out, !cfg.NoBias)
	return d
}

func (d *DiffConv) numTerms() int {
	t := d.K
	if d.AddBackward {
		t *= 2
	}
	if d.RootWeight {
		t++
	}
	return t
}

// Forward convolves x ([..., N, in]) over g and returns [..., N, out]. The
// diffusion runs with the nodes first, so x is permuted once on the way in
// and the result once on the way out (not at all for [N, in]).
func (d *DiffConv) Forward(x *autograd.Tensor, g *Graph) *autograd.Tensor {
	g.checkInput("DiffConv", x)
	if want := d.Filters.Weight.Size(1); x.Size(-1)*d.numTerms() != want {
		panic(fmt.Sprintf("layers: DiffConv: input of shape %v has %d features; filters %v expect %d terms of %d", x.Shape(), x.Size(-1), d.Filters.Weight.Shape(), d.numTerms(), want/d.numTerms()))
	}
	dev := x.Device()
	supports := []*Graph{g.normalize(GraphNormMean, dev)}
	if d.AddBackward {
		supports = append(supports, g.Transpose().normalize(GraphNormMean, dev))
	}
	xm := graphNodesFirst(x)
	terms := make([]*autograd.Tensor, 0, d.numTerms())
	if d.RootWeight {
		terms = append(terms, xm)
	}
	for _, s := range supports {
		h := xm
		for range d.K {
			h = graphRows(h, s)
			terms = append(terms, h)
		}
	}
	return graphNodesBack(d.Filters.Forward(autograd.Concat(terms, -1)))
}

// NodeEmbedding is tsl's NodeEmbedding: a learned table of one vector per
// node, Emb of shape [N, size], initialised from U(±1/√size). Its
// state_dict name is "emb".
type NodeEmbedding struct {
	// Emb is the table, [N, size].
	Emb *nn.Parameter
}

// NewNodeEmbedding returns embeddings for n nodes of the given size, drawn
// from rng.
func NewNodeEmbedding(rng *autograd.RNG, n, size int) *NodeEmbedding {
	if n < 0 || size <= 0 {
		panic(fmt.Sprintf("layers: NewNodeEmbedding: %d nodes of size %d", n, size))
	}
	e := &NodeEmbedding{Emb: nn.NewParameter(autograd.Zeros(n, size))}
	b := 1 / math.Sqrt(float64(size))
	nn.Uniform(e.Emb.Tensor, -b, b, rng)
	return e
}

// Forward returns the table ([N, size]).
func (e *NodeEmbedding) Forward() *autograd.Tensor { return e.Emb.Tensor }

// AdaptiveAdjacency is Graph WaveNet's learned adjacency (Wu et al., IJCAI
// 2019), as tsl's GraphWaveNetModel.get_learned_adj computes it:
//
//	Ã = softmax(ReLU(E_s·E_tᵀ)) over each row
//
// for source and target node embeddings E_s and E_t ([N, emb]). Each row
// sums to 1, so DenseGraphConv(Ã) averages. Its state_dict names are
// "source_embeddings.emb" and "target_embeddings.emb".
type AdaptiveAdjacency struct {
	// SourceEmbeddings is E_s, one row per node.
	SourceEmbeddings *NodeEmbedding
	// TargetEmbeddings is E_t, one row per node.
	TargetEmbeddings *NodeEmbedding
}

// NewAdaptiveAdjacency returns a learned adjacency for n nodes with
// embeddings of size emb (Graph WaveNet uses 10), drawn from rng (source
// first).
func NewAdaptiveAdjacency(rng *autograd.RNG, n, emb int) *AdaptiveAdjacency {
	return &AdaptiveAdjacency{SourceEmbeddings: NewNodeEmbedding(rng, n, emb), TargetEmbeddings: NewNodeEmbedding(rng, n, emb)}
}

// Forward returns Ã ([N, N]).
func (a *AdaptiveAdjacency) Forward() *autograd.Tensor {
	return autograd.MatMulT(a.SourceEmbeddings.Emb.Tensor, a.TargetEmbeddings.Emb.Tensor, false, true).Relu().Softmax(1)
}

// DenseGraphConvConfig holds DenseGraphConv's options. tsl's defaults are
// Order 2, Supports 3, IncludeSelf and channels first; Graph WaveNet's
// learned-adjacency convolution uses Order 2, Supports 1, no self term and
// channels last.
type DenseGraphConvConfig struct {
	// Order is K, the number of powers of each support; zero means 2.
	Order int
	// Supports is the number of adjacency matrices Forward takes; zero
	// means 1.
	Supports int
	// IncludeSelf adds x itself as the first term.
	IncludeSelf bool
	// ChannelLast takes x as [B, T, N, C] or [B, N, C] instead of
	// [B, C, N, T] or [B, C, N].
	ChannelLast bool
}

// DenseGraphConv is tsl's DenseGraphConvOrderK, the graph convolution of
// Graph WaveNet over dense [N, N] supports A_1, ..., A_S:
//
//	out = MLP([x, A_1 x, A_1² x, …, A_1^K x, A_2 x, …])
//
// where A x mixes the nodes (out[w] = Σ_v A[w, v]·x[v]), the terms are
// concatenated on the channel dimension and MLP is a 1×1 Conv2d. Its
// state_dict names are "mlp.weight" ([out, terms·in, 1, 1]) and
// "mlp.bias".
type DenseGraphConv struct {
	// MLP is the 1×1 convolution over the concatenated terms.
	MLP *nn.Conv2d
	// Order is K, the powers of each support.
	Order int
	// Supports is the number of matrices Forward takes.
	Supports int
	// IncludeSelf adds x itself as the first term.
	IncludeSelf bool
	// ChannelLast takes and returns channels-last tensors.
	ChannelLast bool
}

// NewDenseGraphConv returns a DenseGraphConv from in to out channels; MLP
// is initialised as torch.nn.Conv2d from rng.
func NewDenseGraphConv(rng *autograd.RNG, in, out int, cfg DenseGraphConvConfig) *DenseGraphConv {
	d := &DenseGraphConv{Order: cfg.Order, Supports: cfg.Supports, IncludeSelf: cfg.IncludeSelf, ChannelLast: cfg.ChannelLast}
	if d.Order == 0 {
		d.Order = 2
	}
	if d.Supports == 0 {
		d.Supports = 1
	}
	if d.Order < 0 || d.Supports < 0 {
		panic(fmt.Sprintf("layers: NewDenseGraphConv: order %d and %d supports must be positive", cfg.Order, cfg.Supports))
	}
	d.MLP = nn.NewConv2d(rng, in*d.numTerms(), out, 1, 1, nn.Conv2dConfig{})
	return d
}

func (d *DenseGraphConv) numTerms() int {
	t := d.Order * d.Supports
	if d.IncludeSelf {
		t++
	}
	return t
}

// Forward convolves x over the supports (Supports matrices of shape
// [N, N]). x is [B, C, N, T] or [B, C, N] (channels first), or
// [B, T, N, C] or [B, N, C] with ChannelLast; the output has the same
// layout with out channels.
func (d *DenseGraphConv) Forward(x *autograd.Tensor, supports ...*autograd.Tensor) *autograd.Tensor {
	const op = "DenseGraphConv"
	if len(supports) != d.Supports {
		panic(fmt.Sprintf("layers: %s: %d supports; the layer was built for %d", op, len(supports), d.Supports))
	}
	if x.Dim() != 3 && x.Dim() != 4 {
		panic(fmt.Sprintf("layers: %s: input of shape %v is not 3-D or 4-D", op, x.Shape()))
	}
	// Work channels last, [..., N, C].
	h := x
	if !d.ChannelLast {
		if x.Dim() == 3 {
			h = x.Transpose(1, 2)
		} else {
			h = x.Permute(0, 3, 2, 1)
		}
	}
	n, c := h.Size(-2), h.Size(-1)
	if w := d.MLP.Weight; c*d.numTerms() != w.Size(1) {
		panic(fmt.Sprintf("layers: %s: input of shape %v has %d channels; mlp weight %v expects %d terms of %d", op, x.Shape(), c, w.Shape(), d.numTerms(), w.Size(1)/d.numTerms()))
	}
	terms := make([]*autograd.Tensor, 0, d.numTerms())
	if d.IncludeSelf {
		terms = append(terms, h)
	}
	for _, a := range supports {
		if a.Dim() != 2 || a.Size(0) != n || a.Size(1) != n {
			panic(fmt.Sprintf("layers: %s: support %v for %d nodes; want [%d, %d]", op, a.Shape(), n, n, n))
		}
		t := h
		for range d.Order {
			t = a.MatMul(t)
			terms = append(terms, t)
		}
	}
	w := d.MLP.Weight.Reshape(d.MLP.Weight.Size(0), d.MLP.Weight.Size(1))
	out := autograd.MatMulT(autograd.Concat(terms, -1), w, false, true)
	if d.MLP.Bias != nil {
		out = out.Add(d.MLP.Bias.Tensor)
	}
	if !d.ChannelLast {
		if x.Dim() == 3 {
			return out.Transpose(1, 2)
		}
		return out.Permute(0, 3, 2, 1)
	}
	return out
}

// GatedTemporalConvConfig holds GatedTemporalConv's options; the zero
// value is tsl's default (dilation 1, causal padding, channels first, with
// bias).
type GatedTemporalConvConfig struct {
	// Dilation spaces the kernel's taps in time; zero means 1. Graph
	// WaveNet alternates 1 and 2.
	Dilation int
	// NoCausalPad leaves the input unpadded, so the output is
	// (kernel−1)·dilation steps shorter (Graph WaveNet); by default
	// (kernel−1)·dilation zeros are added before the first step, so the
	// output keeps the length and step t sees only steps ≤ t.
	NoCausalPad bool
	// ChannelLast takes x as [B, T, N, C] instead of [B, C, N, T].
	ChannelLast bool
	// NoBias leaves out the convolution's bias.
	NoBias bool
}

// GatedTemporalConv is the gated temporal convolution of Graph WaveNet, as
// tsl's GatedTemporalConv: one Conv2d with a 1×kernel filter over time
// (dilated), applied to every node, gives 2·out channels [a, g], and
//
//	out = tanh(a) ⊙ σ(g)
//
// Its state_dict names are "conv.weight" ([2·out, in, 1, kernel]) and
// "conv.bias"; the convolution is initialised as torch.nn.Conv2d.
type GatedTemporalConv struct {
	// Conv is the 1×kernel convolution to 2·out channels; its Config's
	// dilation and stride are used, its padding is not.
	Conv *nn.Conv2d
	// CausalPad adds (kernel−1)·dilation zeros before the first step.
	CausalPad bool
	// ChannelLast takes and returns [B, T, N, C] tensors.
	ChannelLast bool
}

// NewGatedTemporalConv returns a gated temporal convolution from in to out
// channels with the given kernel size, drawn from rng.
func NewGatedTemporalConv(rng *autograd.RNG, in, out, kernel int, cfg GatedTemporalConvConfig) *GatedTemporalConv {
	dil := cfg.Dilation
	if dil == 0 {
		dil = 1
	}
	if kernel < 1 || dil < 1 {
		panic(fmt.Sprintf("layers: NewGatedTemporalConv: kernel %d and dilation %d must be positive", kernel, cfg.Dilation))
	}
	return &GatedTemporalConv{
		Conv:        nn.NewConv2d(rng, in, 2*out, 1, kernel, nn.Conv2dConfig{Dilation: [2]int{1, dil}, NoBias: cfg.NoBias}),
		CausalPad:   !cfg.NoCausalPad,
		ChannelLast: cfg.ChannelLast,
	}
}

// Forward convolves x ([B, C, N, T], or [B, T, N, C] with ChannelLast) and
// returns [B, out, N, T'] (or [B, T', N, out]), T' = T with causal
// padding and T − (kernel−1)·dilation without.
func (c *GatedTemporalConv) Forward(x *autograd.Tensor) *autograd.Tensor {
	const op = "GatedTemporalConv"
	if x.Dim() != 4 {
		panic(fmt.Sprintf("layers: %s: input of shape %v is not [B, C, N, T] (or [B, T, N, C] channels last)", op, x.Shape()))
	}
	if c.ChannelLast {
		x = x.Permute(0, 3, 2, 1)
	}
	w := c.Conv.Weight
	if x.Size(1) != w.Size(1) {
		panic(fmt.Sprintf("layers: %s: input of shape %v has %d channels; weight %v expects %d", op, x.Shape(), x.Size(1), w.Shape(), w.Size(1)))
	}
	dil := max(c.Conv.Config.Dilation[1], 1)
	opts := autograd.Conv2dOptions{Stride: c.Conv.Config.Stride, Dilation: [2]int{1, dil}}
	if c.CausalPad {
		opts.Padding = [4]int{(w.Size(3) - 1) * dil, 0, 0, 0}
	}
	var b *autograd.Tensor
	if c.Conv.Bias != nil {
		b = c.Conv.Bias.Tensor
	}
	ag := autograd.Conv2d(x, w.Tensor, b, opts).Chunk(2, 1)
	y := ag[0].Tanh().Mul(ag[1].Sigmoid())
	if c.ChannelLast {
		y = y.Permute(0, 3, 2, 1)
	}
	return y
}
