package layers_test

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// graphFromGolden builds the golden's graph: io.edge_index ([2, E], stored
// as float32 by the loader) and io.edge_weight, on the nodes of x.
func graphFromGolden(x *autograd.Tensor, in ssfIO) *layers.Graph {
	d := in["edge_index"].Data()
	idx := make([]int, len(d))
	for i, v := range d {
		idx[i] = int(v)
	}
	return layers.NewGraphFromEdgeIndex(x.Size(-2), idx, in["edge_weight"])
}

// graphModel is the Go twin of a layer that takes a graph.
type graphModel interface {
	Forward(x *autograd.Tensor, g *layers.Graph) *autograd.Tensor
}

func graphOnGraph(m any, in ssfIO) ssfIO {
	x := in["input"]
	return ssfIO{"output": m.(graphModel).Forward(x, graphFromGolden(x, in))}
}

// graphGWN mirrors GWNSpatial of gen_graph.py: Graph WaveNet's learned
// adjacency feeding a DenseGraphConv.
type graphGWN struct {
	Adj   *layers.AdaptiveAdjacency `nn:",inline"`
	Sconv *layers.DenseGraphConv
}

func TestGraphGoldens(t *testing.T) {
	conv := func(norm layers.GraphNorm, noRoot, noBias bool) func(*autograd.RNG) any {
		return func(r *autograd.RNG) any {
			return layers.NewGraphConv(r, 4, 3, layers.GraphConvConfig{Norm: norm, NoRootWeight: noRoot, NoBias: noBias})
		}
	}
	ssfRunGoldens(t, "graph", []ssfGoldenCase{
		{name: "gcn", build: conv(layers.GraphNormGCN, true, false), forward: graphOnGraph},
		{name: "graphconv_mean", build: conv(layers.GraphNormMean, false, false), forward: graphOnGraph},
		{name: "graphconv_sym", build: conv(layers.GraphNormSym, false, true), forward: graphOnGraph},
		{name: "graphconv_none", build: conv(layers.GraphNormNone, true, false), forward: graphOnGraph},
		{name: "diffconv", build: func(r *autograd.RNG) any {
			return layers.NewDiffConv(r, 4, 3, 2, layers.DiffConvConfig{})
		}, forward: graphOnGraph},
		{name: "diffconv_k3_forward", build: func(r *autograd.RNG) any {
			return layers.NewDiffConv(r, 4, 3, 3, layers.DiffConvConfig{NoRootWeight: true, NoBackward: true})
		}, forward: graphOnGraph},
		{name: "diffconv_batched", build: func(r *autograd.RNG) any {
			return layers.NewDiffConv(r, 3, 5, 1, layers.DiffConvConfig{NoBias: true})
		}, forward: graphOnGraph},
		{name: "adaptive_dense", build: func(r *autograd.RNG) any {
			return &graphGWN{
				Adj:   layers.NewAdaptiveAdjacency(r, 7, 3),
				Sconv: layers.NewDenseGraphConv(r, 4, 3, layers.DenseGraphConvConfig{ChannelLast: true}),
			}
		}, forward: func(m any, in ssfIO) ssfIO {
			g := m.(*graphGWN)
			adj := g.Adj.Forward()
			return ssfIO{"output": g.Sconv.Forward(in["input"], adj), "adj": adj}
		}},
		{name: "dense_graphconv", build: func(r *autograd.RNG) any {
			return layers.NewDenseGraphConv(r, 4, 3, layers.DenseGraphConvConfig{Supports: 2, IncludeSelf: true})
		}, forward: func(m any, in ssfIO) ssfIO {
			return ssfIO{"output": m.(*layers.DenseGraphConv).Forward(in["input"], in["support0"], in["support1"])}
		}},
		{name: "gated_tcn", build: func(r *autograd.RNG) any {
			return layers.NewGatedTemporalConv(r, 4, 3, 2, layers.GatedTemporalConvConfig{Dilation: 2})
		}},
		{name: "gated_tcn_valid_last", build: func(r *autograd.RNG) any {
			return layers.NewGatedTemporalConv(r, 4, 3, 3, layers.GatedTemporalConvConfig{NoCausalPad: true, ChannelLast: true})
		}},
	})
}

// graphRandom returns a random graph on n nodes with e edges (no
// self-loops) and weights in [0.5, 1.5), in which every node has at least
// one incoming and one outgoing edge (a ring, then random edges).
func graphRandom(rng *autograd.RNG, n, e int) *layers.Graph {
	edges := make([][2]int, 0, e)
	for i := range n {
		edges = append(edges, [2]int{i, (i + 1) % n})
	}
	for len(edges) < e {
		s, d := rng.IntN(n), rng.IntN(n)
		if s != d {
			edges = append(edges, [2]int{s, d})
		}
	}
	return layers.NewGraph(n, edges, rng.Uniform(0.5, 1.5, len(edges)))
}

func TestGraphNew(t *testing.T) {
	g := layers.NewGraph(3, [][2]int{{0, 1}, {2, 1}}, nil)
	assert.Equal(t, []int{0, 2}, g.Src)
	assert.Equal(t, []int{1, 1}, g.Dst)
	assert.Equal(t, 2, g.NumEdges())
	h := layers.NewGraphFromEdgeIndex(3, []int{0, 2, 1, 1}, nil)
	assert.Equal(t, g.Src, h.Src)
	assert.Equal(t, g.Dst, h.Dst)
	tr := g.Transpose()
	assert.Equal(t, []int{1, 1}, tr.Src)
	assert.Equal(t, []float32{0, 0, 0, 1, 0, 1, 0, 0, 0}, g.Dense().Data(), "A[i, j] for j → i")
	assert.Panics(t, func() { layers.NewGraph(3, [][2]int{{0, 3}}, nil) })
	assert.Panics(t, func() { layers.NewGraph(3, [][2]int{{0, 1}}, autograd.Ones(2)) })
	assert.Panics(t, func() { layers.NewGraphFromEdgeIndex(3, []int{0, 1, 2}, nil) })
	assert.Panics(t, func() { g.Propagate(autograd.Ones(4, 2)) }, "wrong number of nodes")

	// No edges: GCN keeps only the self-loops, diffusion gives zeros.
	rng := autograd.NewRNG(9)
	empty := layers.NewGraph(4, nil, autograd.Ones(0))
	x := rng.Normal(0, 1, 2, 4, 3)
	c := layers.NewGraphConv(rng, 3, 2, layers.GraphConvConfig{Norm: layers.GraphNormGCN, NoRootWeight: true})
	ssfAssertClose(t, c.Lin.Forward(x), c.Forward(x, empty), 1e-6, "GCN without edges")
	d := layers.NewDiffConv(rng, 3, 2, 1, layers.DiffConvConfig{NoRootWeight: true, NoBias: true})
	assert.Equal(t, make([]float32, 16), d.Forward(x, empty).Data())
}

func TestGraphFromDense(t *testing.T) {
	adj := autograd.New([]float32{
		0, 2, 0,
		1, 0, 3,
		0, 0.5, 0,
	}, 3, 3)
	g := layers.NewGraphFromDense(adj)
	assert.Equal(t, []int{0, 1, 1, 2}, g.Src, "listed by source")
	assert.Equal(t, []int{1, 0, 2, 1}, g.Dst)
	assert.Equal(t, adj.Data(), g.Dense().Data(), "Dense gives adj back")
	// DCRNN's forward transition: D_out⁻¹·W, rows of W over their sums.
	pf := g.Normalize(layers.GraphNormMean).Dense()
	ssfAssertClose(t, autograd.New([]float32{0, 1, 0, 0.25, 0, 0.75, 0, 1, 0}, 3, 3), pf, 1e-6, "P_f = D_out⁻¹W")
	pb := g.Transpose().Normalize(layers.GraphNormMean).Dense()
	ssfAssertClose(t, autograd.New([]float32{0, 1, 0, 2 / 2.5, 0, 0.5 / 2.5, 0, 1, 0}, 3, 3), pb, 1e-6, "P_b = D_in⁻¹Wᵀ")
	assert.Panics(t, func() { layers.NewGraphFromDense(autograd.Ones(2, 3)) })
}

func TestGraphPropagateDense(t *testing.T) {
	rng := autograd.NewRNG(1)
	g := graphRandom(rng, 12, 40)
	for _, shape := range [][]int{{12, 3}, {2, 12, 3}, {2, 4, 12, 3}} {
		x := rng.Normal(0, 1, shape...)
		ssfAssertClose(t, g.Dense().MatMul(x), g.Propagate(x), 1e-5, fmt.Sprint("Propagate = A·x for ", shape))
	}
}

func TestGraphNormalize(t *testing.T) {
	rng := autograd.NewRNG(2)
	g := graphRandom(rng, 10, 30)
	// Mean: the rows of the propagation matrix sum to 1.
	for _, s := range g.Normalize(layers.GraphNormMean).Dense().Sum(1).Data() {
		assert.InDelta(t, 1, s, 1e-6)
	}
	// GCN on an undirected graph is symmetric, with every self-loop added.
	und := [][2]int{{0, 1}, {1, 0}, {1, 2}, {2, 1}, {2, 3}, {3, 2}, {3, 3}}
	w := []float32{1, 1, 2, 2, 0.5, 0.5, 3}
	u := layers.NewGraph(4, und, autograd.New(w, len(w))).Normalize(layers.GraphNormGCN)
	assert.Equal(t, 6+4, u.NumEdges(), "the existing self-loop is replaced, three are added")
	a := u.Dense()
	ssfAssertClose(t, a.T(), a, 1e-6, "symmetric")
	// deg(3) = 0.5 + 3 (its own loop keeps weight 3), deg(0) = 1 + 1.
	assert.InDelta(t, 3/3.5, a.At(3, 3), 1e-6)
	assert.InDelta(t, 0.5, a.At(0, 0), 1e-6)
	// A node without incoming edges gets zero factors, not infinities.
	d := layers.NewGraph(3, [][2]int{{0, 1}, {1, 2}}, nil)
	for _, norm := range []layers.GraphNorm{layers.GraphNormMean, layers.GraphNormSym, layers.GraphNormGCN, layers.GraphNormNone} {
		for _, v := range d.Normalize(norm).Dense().Data() {
			assert.False(t, math.IsInf(float64(v), 0) || math.IsNaN(float64(v)), "%v", norm)
		}
	}
	assert.Equal(t, "gcn", layers.GraphNormGCN.String())
}

// TestGraphDiffConvConstant: P_f and P_b have rows summing to 1, so a
// signal constant over the nodes stays constant: every node's output is
// the same.
func TestGraphDiffConvConstant(t *testing.T) {
	rng := autograd.NewRNG(3)
	g := graphRandom(rng, 20, 70)
	d := layers.NewDiffConv(rng, 3, 4, 3, layers.DiffConvConfig{})
	x := rng.Normal(0, 1, 2, 1, 3).Expand(2, 20, 3)
	y := d.Forward(x, g)
	ssfAssertClose(t, y.Narrow(1, 0, 1).Expand(2, 20, 4), y, 1e-5, "constant in, constant out")
	// Each diffusion step alone, too.
	c := autograd.Full(2.5, 20, 3)
	ssfAssertClose(t, c, g.Normalize(layers.GraphNormMean).Propagate(c), 1e-6, "P_f·c = c")
	ssfAssertClose(t, c, g.Transpose().Normalize(layers.GraphNormMean).Propagate(c), 1e-6, "P_b·c = c")
}

// TestGraphPermutation: relabelling the nodes (and listing the edges in
// another order) permutes the output the same way.
func TestGraphPermutation(t *testing.T) {
	rng := autograd.NewRNG(4)
	const n = 15
	g := graphRandom(rng, n, 45)
	perm := rng.Perm(n)      // node i becomes perm[i]
	order := rng.Perm(45)    // edge order
	inv := make([]int, n)    // new node → old node
	for i, p := range perm { // so x'[perm[i]] = x[i]
		inv[p] = i
	}
	edges := make([][2]int, 45)
	w := g.Weight.Data()
	pw := make([]float32, 45)
	for k, e := range order {
		edges[k] = [2]int{perm[g.Src[e]], perm[g.Dst[e]]}
		pw[k] = w[e]
	}
	pg := layers.NewGraph(n, edges, autograd.New(pw, 45))
	x := rng.Normal(0, 1, 2, n, 3)
	px := x.IndexSelect(1, inv)
	for name, m := range map[string]graphModel{
		"diffconv":  layers.NewDiffConv(rng, 3, 4, 2, layers.DiffConvConfig{}),
		"gcn":       layers.NewGraphConv(rng, 3, 4, layers.GraphConvConfig{Norm: layers.GraphNormGCN}),
		"graphconv": layers.NewGraphConv(rng, 3, 4, layers.GraphConvConfig{}),
	} {
		ssfAssertClose(t, m.Forward(x, g).IndexSelect(1, inv), m.Forward(px, pg), 1e-5, name+" is equivariant")
	}
}

// TestGraphEdgeWeightGrad checks the gradient of the edge weights through
// the normalisations by central differences (float64 reference values are
// the goldens' job; this checks the composition on a larger graph).
func TestGraphEdgeWeightGrad(t *testing.T) {
	rng := autograd.NewRNG(5)
	g := graphRandom(rng, 6, 14)
	x := rng.Normal(0, 1, 6, 2)
	up := rng.Normal(0, 1, 6, 2)
	for _, norm := range []layers.GraphNorm{layers.GraphNormMean, layers.GraphNormGCN, layers.GraphNormSym} {
		loss := func(w *autograd.Tensor) *autograd.Tensor {
			h := &layers.Graph{NumNodes: g.NumNodes, Src: g.Src, Dst: g.Dst, Weight: w}
			return h.Normalize(norm).Propagate(x).Mul(up).Sum()
		}
		w := g.Weight.Detach().Clone().SetRequiresGrad(true)
		loss(w).Backward()
		grad := w.Grad.Data()
		wd := w.Data()
		for e := range wd {
			const eps = 1e-2
			p, m := append([]float32(nil), wd...), append([]float32(nil), wd...)
			p[e] += eps
			m[e] -= eps
			num := (loss(autograd.New(p, len(p))).Item() - loss(autograd.New(m, len(m))).Item()) / (2 * eps)
			assert.InDelta(t, num, grad[e], 2e-3, "%v: edge %d", norm, e)
		}
	}
}

func TestGraphAdaptiveAdjacency(t *testing.T) {
	rng := autograd.NewRNG(6)
	a := layers.NewAdaptiveAdjacency(rng, 9, 10)
	adj := a.Forward()
	assert.Equal(t, []int{9, 9}, adj.Shape())
	for _, s := range adj.Sum(1).Data() {
		assert.InDelta(t, 1, s, 1e-6)
	}
	for _, v := range adj.Data() {
		assert.GreaterOrEqual(t, v, float32(0))
	}
	bound := 1 / math.Sqrt(10)
	assert.LessOrEqual(t, loraAbsMax(a.SourceEmbeddings.Emb.Tensor), bound)
	names := nn.StateDict(a)
	assert.Contains(t, names, "source_embeddings.emb")
	assert.Contains(t, names, "target_embeddings.emb")
	// Averaging over a row-stochastic support keeps a constant.
	d := layers.NewDenseGraphConv(rng, 2, 2, layers.DenseGraphConvConfig{Order: 3})
	c := autograd.Full(1.5, 1, 2, 9, 4) // [B, C, N, T]
	y := d.Forward(c, adj)
	assert.Equal(t, []int{1, 2, 9, 4}, y.Shape())
	ssfAssertClose(t, y.Narrow(2, 0, 1).Expand(1, 2, 9, 4), y, 1e-5, "constant over the nodes")
}

// TestGraphGatedTCNCausal: with causal padding the output keeps the
// length and step t does not depend on later steps; without it the output
// is (k−1)·d steps shorter.
func TestGraphGatedTCNCausal(t *testing.T) {
	rng := autograd.NewRNG(7)
	c := layers.NewGatedTemporalConv(rng, 3, 5, 2, layers.GatedTemporalConvConfig{Dilation: 2})
	x := rng.Normal(0, 1, 2, 3, 4, 10)
	y := c.Forward(x)
	assert.Equal(t, []int{2, 5, 4, 10}, y.Shape())
	x2 := autograd.Concat([]*autograd.Tensor{x.Narrow(3, 0, 7), rng.Normal(0, 1, 2, 3, 4, 3)}, 3)
	assert.Equal(t, y.Narrow(3, 0, 7).Data(), c.Forward(x2).Narrow(3, 0, 7).Data(), "steps < 7 ignore steps ≥ 7")
	for _, v := range y.Data() {
		require.Less(t, math.Abs(float64(v)), 1.0, "tanh·σ lies in (−1, 1)")
	}
	v := layers.NewGatedTemporalConv(rng, 3, 5, 2, layers.GatedTemporalConvConfig{Dilation: 2, NoCausalPad: true, ChannelLast: true})
	assert.Equal(t, []int{2, 8, 4, 5}, v.Forward(x.Permute(0, 3, 2, 1)).Shape())
	assert.Equal(t, []int{10, 3, 1, 2}, c.Conv.Weight.Shape(), "[2·out, in, 1, k]")
}

// TestGraphLarge runs GCN and diffusion convolution (K = 2) forward and
// backward on a graph of 10,000 nodes and 100,000 edges with 64 features
// and checks time and memory: the work and the allocations grow with the
// edges (a dense adjacency alone would be 400 MB).
func TestGraphLarge(t *testing.T) {
	const n, e, f = 10000, 100000, 64
	rng := autograd.NewRNG(8)
	g := graphRandom(rng, n, e)
	x := rng.Normal(0, 1, n, f).SetRequiresGrad(true)
	for _, c := range []struct {
		name   string
		m      graphModel
		maxMiB float64
	}{
		// Per hop: gathered messages, weighted messages, their gradients,
		// each E·F·4 bytes = 24.4 MiB.
		{"gcn", layers.NewGraphConv(rng, f, f, layers.GraphConvConfig{Norm: layers.GraphNormGCN}), 200},
		{"diffconv", layers.NewDiffConv(rng, f, f, 2, layers.DiffConvConfig{}), 600},
	} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		y := c.m.Forward(x, g)
		y.Square().Mean().Backward()
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		mib := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
		t.Logf("%s on %d nodes, %d edges, %d features: forward+backward %v, %.0f MiB allocated", c.name, n, e, f, elapsed.Round(time.Millisecond), mib)
		assert.Equal(t, []int{n, f}, y.Shape())
		assert.Less(t, mib, c.maxMiB, "allocations stay O(E·F)")
		assert.Less(t, elapsed, 10*time.Second)
		require.NotNil(t, x.Grad)
		x.ZeroGrad()
	}
}

// ExampleGraphConv runs a two-layer GCN over a small graph given as an edge
// list with weights.
func ExampleGraphConv() {
	rng := autograd.NewRNG(1)
	// A ring of 5 nodes, both directions; messages flow source → destination.
	var edges [][2]int
	for i := range 5 {
		edges = append(edges, [2]int{i, (i + 1) % 5}, [2]int{(i + 1) % 5, i})
	}
	g := layers.NewGraph(5, edges, autograd.Full(0.5, len(edges)))

	cfg := layers.GraphConvConfig{Norm: layers.GraphNormGCN, NoRootWeight: true} // Kipf & Welling
	gcn1 := layers.NewGraphConv(rng, 3, 16, cfg)
	gcn2 := layers.NewGraphConv(rng, 16, 2, cfg)

	x := rng.Normal(0, 1, 4, 5, 3) // [batch, nodes, features]
	y := gcn2.Forward(gcn1.Forward(x, g).Relu(), g)
	fmt.Println(y.Shape())
	for _, np := range nn.NamedParameters(gcn1) {
		fmt.Println(np.Name, np.Param.Shape())
	}
	// Output:
	// [4 5 2]
	// lin.weight [16 3]
	// bias [16]
}
