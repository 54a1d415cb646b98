package layers_test

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// lkaTol is the golden tolerance: |got − want| ≤ 1e-4·max(|want|, 1).
const lkaTol = 1e-4

type lkaIO = map[string]*autograd.Tensor

// lkaGoldenFile is one golden file of testdata/lka or testdata/s4, split by
// the key prefixes the generator scripts write (see gen_lka.py).
type lkaGoldenFile struct {
	state, in, out, up, grad, after lkaIO
}

func lkaLoadGolden(t *testing.T, dir, name string) lkaGoldenFile {
	t.Helper()
	f, err := nn.LoadSafetensors(filepath.Join("testdata", dir, name+".safetensors"))
	require.NoError(t, err)
	g := lkaGoldenFile{lkaIO{}, lkaIO{}, lkaIO{}, lkaIO{}, lkaIO{}, lkaIO{}}
	for _, nt := range f.Tensors {
		key, io := strings.CutPrefix(nt.Name, "io.")
		if !io {
			g.state[key] = nt.Tensor
			continue
		}
		dst := g.in
		for _, p := range []struct {
			prefix string
			m      lkaIO
		}{{"out.", g.out}, {"up.", g.up}, {"grad.", g.grad}, {"after.", g.after}} {
			if rest, ok := strings.CutPrefix(key, p.prefix); ok {
				key, dst = rest, p.m
				break
			}
		}
		dst[key] = nt.Tensor
	}
	return g
}

// lkaMaxErr is max |got − want| / max(|want|, 1), after checking shapes.
func lkaMaxErr(t *testing.T, what string, want, got *autograd.Tensor) float64 {
	t.Helper()
	require.NotNil(t, got, what)
	require.Equal(t, want.Shape(), got.Shape(), what)
	w, g := want.Data(), got.Data()
	worst := 0.0
	for i := range w {
		e := math.Abs(float64(g[i])-float64(w[i])) / math.Max(math.Abs(float64(w[i])), 1)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

// lkaToDevice moves a model's parameters and buffers to dev.
func lkaToDevice(model any, dev autograd.Device) {
	for _, np := range nn.NamedParameters(model) {
		np.Param.Tensor = np.Param.To(dev).Detach().SetRequiresGrad(true)
	}
	for _, nb := range nn.NamedBuffers(model) {
		nb.Buffer.Tensor = nb.Buffer.To(dev).Detach()
	}
}

// lkaGoldenCase builds a layer with the golden's configuration and runs it
// on the golden's inputs.
type lkaGoldenCase struct {
	name    string
	eval    bool
	build   func(rng *autograd.RNG) any
	forward func(m any, in lkaIO) lkaIO // nil: a single-input nn.Layer
}

// lkaRunGoldens loads each case's state_dict strictly into the Go layer,
// compares outputs, the gradients of sum(output·up) for every input and
// parameter, and the buffers after the pass, and logs the worst error.
func lkaRunGoldens(t *testing.T, dir string, cases []lkaGoldenCase) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		overall := 0.0
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				g := lkaLoadGolden(t, dir, c.name)
				m := c.build(autograd.NewRNG(1))
				_, err := nn.LoadStateDict(m, g.state, true)
				require.NoError(t, err, "torch's state_dict must load strictly")
				lkaToDevice(m, dev)
				if c.eval {
					nn.Eval(m)
				} else {
					nn.Train(m)
				}
				in := lkaIO{}
				for k, v := range g.in {
					v = v.To(dev)
					if _, ok := g.grad[k]; ok {
						v = v.Detach().SetRequiresGrad(true)
					}
					in[k] = v
				}
				var outs lkaIO
				if c.forward != nil {
					outs = c.forward(m, in)
				} else {
					outs = lkaIO{"output": m.(nn.Layer).Forward(in["input"])}
				}
				worst := 0.0
				check := func(what string, want, got *autograd.Tensor) {
					e := lkaMaxErr(t, what, want, got)
					assert.LessOrEqual(t, e, lkaTol, "%s: %s", c.name, what)
					worst = math.Max(worst, e)
				}
				require.Len(t, outs, len(g.out))
				var loss *autograd.Tensor
				keys := make([]string, 0, len(outs))
				for k := range outs {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					check("output "+k, g.out[k], outs[k])
					l := outs[k].Mul(g.up[k].To(dev)).Sum()
					if loss == nil {
						loss = l
					} else {
						loss = loss.Add(l)
					}
				}
				loss.Backward()
				checked := 0
				for k, v := range in {
					if want, ok := g.grad[k]; ok {
						check("grad of input "+k, want, v.Grad)
						checked++
					}
				}
				for _, np := range nn.NamedParameters(m) {
					want, ok := g.grad[np.Name]
					require.True(t, ok, "no golden gradient for parameter %s", np.Name)
					check("grad of "+np.Name, want, np.Param.Grad)
					checked++
				}
				assert.Equal(t, len(g.grad), checked, "every golden gradient is checked")
				for _, nb := range nn.NamedBuffers(m) {
					if want, ok := g.after[nb.Name]; ok && !strings.HasSuffix(nb.Name, "num_batches_tracked") {
						check("buffer "+nb.Name, want, nb.Buffer.Tensor)
					}
				}
				t.Logf("%s: max error %.2g", c.name, worst)
				overall = math.Max(overall, worst)
			})
		}
		t.Logf("%s goldens: max error %.2g over %d cases", dir, overall, len(cases))
	})
}

func TestLKAGoldens(t *testing.T) {
	lka := func(c int, p layers.LKAPadding) func(*autograd.RNG) any {
		return func(r *autograd.RNG) any { return layers.NewLKA(r, c, layers.LKAConfig{Padding: p}) }
	}
	block := func(c int, ratio float64, p layers.LKAPadding) func(*autograd.RNG) any {
		return func(r *autograd.RNG) any {
			return layers.NewVANBlock(r, c, layers.VANBlockConfig{MLPRatio: ratio, Padding: p})
		}
	}
	lkaRunGoldens(t, "lka", []lkaGoldenCase{
		{name: "lka_zeros", build: lka(4, layers.LKAPadZeros)},
		{name: "lka_zeros_small", build: lka(3, layers.LKAPadZeros)},
		{name: "lka_circular", build: lka(4, layers.LKAPadCircular)},
		{name: "lka_longitude", build: lka(4, layers.LKAPadLongitude)},
		{name: "van_attn", build: func(r *autograd.RNG) any { return layers.NewVANSpatialAttention(r, 6, layers.LKAConfig{}) }},
		{name: "van_block", build: block(8, 0, layers.LKAPadZeros)},
		{name: "van_block_eval", eval: true, build: block(8, 2, layers.LKAPadZeros)},
		{name: "van_block_longitude", build: block(4, 8, layers.LKAPadLongitude)},
		{name: "van_block_circular", eval: true, build: block(4, 0, layers.LKAPadCircular)},
	})
}

func TestLKAShapes(t *testing.T) {
	rng := autograd.NewRNG(2)
	for _, p := range []layers.LKAPadding{layers.LKAPadZeros, layers.LKAPadCircular, layers.LKAPadLongitude} {
		l := layers.NewLKA(rng, 3, layers.LKAConfig{Padding: p})
		for _, hw := range [][2]int{{1, 1}, {9, 9}, {10, 13}, {17, 9}, {24, 32}} {
			if p == layers.LKAPadCircular && (hw[0] < 9 || hw[1] < 9) || p == layers.LKAPadLongitude && hw[1] < 9 {
				assert.Panics(t, func() { l.Forward(rng.Normal(0, 1, 2, 3, hw[0], hw[1])) }, "%v padding on %v", p, hw)
				continue
			}
			x := rng.Normal(0, 1, 2, 3, hw[0], hw[1])
			assert.Equal(t, x.Shape(), l.Forward(x).Shape(), "%v padding on %v", p, hw)
			assert.Equal(t, []int{3, hw[0], hw[1]}, l.Forward(x.Narrow(0, 0, 1).Squeeze(0)).Shape(), "unbatched")
		}
	}
	b := layers.NewVANBlock(rng, 4, layers.VANBlockConfig{MLPRatio: 8, DropPath: 0.1, Drop: 0.1})
	x := rng.Normal(0, 1, 2, 4, 5, 7)
	assert.Equal(t, x.Shape(), b.Forward(x).Shape())
	assert.Panics(t, func() { b.Forward(rng.Normal(0, 1, 2, 3, 5, 7)) })
	assert.Panics(t, func() { layers.NewLKA(rng, 0, layers.LKAConfig{}) })
}

// The output at p depends on the input at q exactly when q is within
// Chebyshev distance 11 of p (a 23×23 window): a 5×5 window, then a 7×7
// window with taps 3 apart.
func TestLKAReceptiveField(t *testing.T) {
	const size, c, p = 31, 3, 15
	rng := autograd.NewRNG(3)
	l := layers.NewLKA(rng, c, layers.LKAConfig{})
	x := rng.Normal(0, 1, 1, c, size, size).SetRequiresGrad(true)
	y := l.Forward(x)
	m := make([]float32, c*size*size)
	for ch := 0; ch < c; ch++ {
		m[(ch*size+p)*size+p] = 1
	}
	y.Mul(autograd.New(m, 1, c, size, size)).Sum().Backward()
	g := x.Grad.Data()
	near, far := 0, 0
	for i := 0; i < size; i++ {
		for j := 0; j < size; j++ {
			sum := 0.0
			for ch := 0; ch < c; ch++ {
				sum += math.Abs(float64(g[(ch*size+i)*size+j]))
			}
			d := max(lkaAbs(i-p), lkaAbs(j-p))
			if d <= 11 {
				near++
				assert.NotZero(t, sum, "gradient at distance %d (%d, %d)", d, i, j)
			} else {
				far++
				assert.Zero(t, sum, "gradient at distance %d (%d, %d)", d, i, j)
			}
		}
	}
	assert.Equal(t, 23*23, near)
	assert.Equal(t, size*size-23*23, far)
}

func lkaAbs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// With the 1×1 convolution's weights at 0 and its bias at 1 the attention
// map is all ones, so the layer is the identity.
func TestLKAOnesAttentionIsIdentity(t *testing.T) {
	rng := autograd.NewRNG(4)
	for _, p := range []layers.LKAPadding{layers.LKAPadZeros, layers.LKAPadCircular, layers.LKAPadLongitude} {
		l := layers.NewLKA(rng, 5, layers.LKAConfig{Padding: p})
		nn.Zeros(l.Conv1.Weight.Tensor)
		nn.Ones(l.Conv1.Bias.Tensor)
		x := rng.Normal(0, 1, 2, 5, 11, 12)
		assert.Equal(t, x.Data(), l.Forward(x).Data(), "%v", p)
	}
}

// Rolling the input rolls the output: everywhere with circular padding, in
// longitude with LKAPadLongitude, and away from the borders with zeros.
func TestLKATranslationEquivariance(t *testing.T) {
	rng := autograd.NewRNG(5)
	const h, w = 36, 40
	x := rng.Normal(0, 1, 2, 3, h, w)
	cases := []struct {
		pad    layers.LKAPadding
		shifts []int
		// interior is how far from each border the comparison stays
		// (rows, columns).
		interior [2]int
	}{
		{layers.LKAPadCircular, []int{5, -7}, [2]int{0, 0}},
		{layers.LKAPadLongitude, []int{0, 13}, [2]int{0, 0}},
		{layers.LKAPadZeros, []int{4, 6}, [2]int{11 + 4, 11 + 6}},
	}
	for _, c := range cases {
		l := layers.NewLKA(rng, 3, layers.LKAConfig{Padding: c.pad})
		a := l.Forward(x.Roll(c.shifts, []int{2, 3})).Data()
		b := l.Forward(x).Roll(c.shifts, []int{2, 3}).Data()
		worst := 0.0
		for n := 0; n < 2*3; n++ {
			for i := c.interior[0]; i < h-c.interior[0]; i++ {
				for j := c.interior[1]; j < w-c.interior[1]; j++ {
					k := (n*h+i)*w + j
					worst = math.Max(worst, math.Abs(float64(a[k]-b[k])))
				}
			}
		}
		assert.Less(t, worst, 1e-5, "%v", c.pad)
	}
	// Zero padding is not equivariant at the borders.
	l := layers.NewLKA(rng, 3, layers.LKAConfig{})
	a := l.Forward(x.Roll([]int{4, 6}, []int{2, 3}))
	b := l.Forward(x).Roll([]int{4, 6}, []int{2, 3})
	assert.Greater(t, lkaMaxErr(t, "border", a, b), 1e-3)
}

// Layer scales of zero make the block the identity, in training mode too.
func TestVANBlockZeroLayerScaleIsIdentity(t *testing.T) {
	rng := autograd.NewRNG(6)
	for _, p := range []layers.LKAPadding{layers.LKAPadZeros, layers.LKAPadLongitude} {
		b := layers.NewVANBlock(rng, 6, layers.VANBlockConfig{DropPath: 0.2, Drop: 0.1, Padding: p})
		nn.Zeros(b.LayerScale1.Tensor)
		nn.Zeros(b.LayerScale2.Tensor)
		x := rng.Normal(0, 1, 2, 6, 9, 10)
		assert.Equal(t, x.Data(), b.Forward(x).Data())
		nn.Eval(b)
		assert.Equal(t, x.Data(), b.Forward(x).Data())
	}
}

func TestLKAParameters(t *testing.T) {
	rng := autograd.NewRNG(7)
	for _, c := range []int{1, 4, 64} {
		_, total := nn.NumParams(layers.NewLKA(rng, c, layers.LKAConfig{}))
		assert.Equal(t, 26*c+50*c+c*c+c, total, "C=%d", c)
	}
	names := func(m any) []string {
		var s []string
		for _, nt := range nn.NamedStateDict(m) {
			s = append(s, fmt.Sprint(nt.Name, nt.Tensor.Shape()))
		}
		return s
	}
	assert.Equal(t, []string{
		"conv0.weight[4 1 5 5]", "conv0.bias[4]",
		"conv_spatial.weight[4 1 7 7]", "conv_spatial.bias[4]",
		"conv1.weight[4 4 1 1]", "conv1.bias[4]",
	}, names(layers.NewLKA(rng, 4, layers.LKAConfig{})))
	got := names(layers.NewVANBlock(rng, 4, layers.VANBlockConfig{MLPRatio: 2}))
	for _, want := range []string{
		"norm1.weight[4]", "norm1.running_var[4]", "norm1.num_batches_tracked[]",
		"attn.proj_1.weight[4 4 1 1]", "attn.spatial_gating_unit.conv_spatial.weight[4 1 7 7]",
		"attn.proj_2.bias[4]", "mlp.fc1.weight[8 4 1 1]", "mlp.dwconv.dwconv.weight[8 1 3 3]",
		"mlp.fc2.weight[4 8 1 1]", "layer_scale_1[4]", "layer_scale_2[4]",
	} {
		assert.Contains(t, got, want)
	}
	assert.Len(t, got, 2*5+10+6+2)
	// VAN's initialisation: conv weights N(0, 2/fan_out), biases zero,
	// layer scales 1e-2.
	b := layers.NewVANBlock(rng, 64, layers.VANBlockConfig{})
	std := func(p *nn.Parameter) float64 {
		s := 0.0
		for _, v := range p.Data() {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(p.Numel()))
	}
	assert.InDelta(t, math.Sqrt(2.0/64), std(b.Attn.Proj1.Weight), 0.01)
	assert.InDelta(t, math.Sqrt(2.0/49), std(b.Attn.SpatialGatingUnit.ConvSpatial.Weight), 0.02)
	assert.InDelta(t, math.Sqrt(2.0/64), std(b.Mlp.FC2.Weight), 0.01)
	assert.Zero(t, std(b.Attn.SpatialGatingUnit.Conv0.Bias))
	assert.InDelta(t, 1e-2, b.LayerScale2.Data()[5], 1e-9)
}

// LKA keeps the shape of a feature map; with circular padding in longitude
// it suits a weather grid whose longitude wraps around.
func ExampleLKA() {
	rng := autograd.NewRNG(1)
	lka := layers.NewLKA(rng, 16, layers.LKAConfig{})
	x := rng.Normal(0, 1, 2, 16, 32, 32) // [N, C, H, W]
	fmt.Println(lka.Forward(x).Shape())
	for _, p := range nn.NamedParameters(lka) {
		fmt.Println(p.Name, p.Param.Shape())
	}

	// A VAN block over a latitude × longitude grid.
	block := layers.NewVANBlock(rng, 16, layers.VANBlockConfig{Padding: layers.LKAPadLongitude})
	grid := rng.Normal(0, 1, 1, 16, 18, 36)
	fmt.Println(block.Forward(grid).Shape())
	_, n := nn.NumParams(block)
	fmt.Println("block parameters:", n)
	// Output:
	// [2 16 32 32]
	// conv0.weight [16 1 5 5]
	// conv0.bias [16]
	// conv_spatial.weight [16 1 7 7]
	// conv_spatial.bias [16]
	// conv1.weight [16 16 1 1]
	// conv1.bias [16]
	// [1 16 18 36]
	// block parameters: 4896
}
