package gorgonia

import (
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"
)

func seq(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i + 1)
	}
	return out
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// samePointer reports whether two slices start at the same element.
func samePointer(t *testing.T, a, b []float32) bool {
	t.Helper()
	require.NotEmpty(t, a)
	require.NotEmpty(t, b)
	return &a[0] == &b[0]
}

func TestFromDenseSharesMemory(t *testing.T) {
	backing := seq(6)
	d := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(backing))
	x, err := FromDense(d)
	require.NoError(t, err)

	host, err := x.HostData()
	require.NoError(t, err)
	assert.True(t, samePointer(t, backing, host), "autograd tensor must use the Dense's backing array")

	// Dense -> tensor.
	require.NoError(t, d.SetAt(float32(42), 1, 2))
	assert.Equal(t, float32(42), x.At(1, 2))
	d.Float32s()[0] = -1
	assert.Equal(t, float32(-1), x.At(0, 0))

	// tensor -> Dense.
	host[1] = 7
	v, err := d.At(0, 1)
	require.NoError(t, err)
	assert.Equal(t, float32(7), v)
	assert.Equal(t, []float32{-1, 7, 3, 4, 5, 42}, x.Data())
}

func TestToDenseSharesMemory(t *testing.T) {
	x := autograd.New(seq(12), 3, 4)
	d, err := ToDense(x)
	require.NoError(t, err)

	host, err := x.HostData()
	require.NoError(t, err)
	assert.True(t, samePointer(t, host, d.Float32s()), "Dense must use the tensor's storage")

	host[5] = 100 // row 1, column 1
	v, err := d.At(1, 1)
	require.NoError(t, err)
	assert.Equal(t, float32(100), v)

	require.NoError(t, d.SetAt(float32(-3), 2, 3))
	assert.Equal(t, float32(-3), x.At(2, 3))
}

func TestShapes(t *testing.T) {
	for _, shape := range [][]int{
		{5},
		{2, 3},
		{1, 4},
		{4, 1},
		{2, 1, 3},
		{2, 3, 4, 5},
		{1, 1, 1, 2},
	} {
		n := numel(shape)
		d := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(seq(n)))
		x, err := FromDense(d)
		require.NoError(t, err, "shape %v", shape)
		assert.Equal(t, shape, x.Shape(), "FromDense shape")
		assert.Equal(t, seq(n), x.Data(), "FromDense values for shape %v", shape)

		back, err := ToDense(autograd.New(seq(n), shape...))
		require.NoError(t, err, "shape %v", shape)
		assert.Equal(t, tensor.Shape(shape), back.Shape(), "ToDense shape")
		assert.Equal(t, tensor.Float32, back.Dtype())
		assert.Equal(t, seq(n), back.Float32s())
		// Element order: the last element by multi-index.
		last := make([]int, len(shape))
		for i, s := range shape {
			last[i] = s - 1
		}
		v, err := back.At(last...)
		require.NoError(t, err)
		assert.Equal(t, float32(n), v)
	}
}

func TestScalar(t *testing.T) {
	d := tensor.New(tensor.FromScalar(float32(2.5)))
	require.True(t, d.IsScalar())
	x, err := FromDense(d)
	require.NoError(t, err)
	assert.Equal(t, 0, x.Dim())
	assert.Equal(t, float32(2.5), x.Item())

	s := autograd.Scalar(4)
	ds, err := ToDense(s)
	require.NoError(t, err)
	assert.True(t, ds.IsScalar())
	assert.Equal(t, float32(4), ds.ScalarValue())
	host, err := s.HostData()
	require.NoError(t, err)
	host[0] = 9
	assert.Equal(t, float32(9), ds.ScalarValue(), "scalar Dense shares the tensor's element")

	back, err := FromDense(ds)
	require.NoError(t, err)
	assert.Equal(t, 0, back.Dim())
	assert.Equal(t, float32(9), back.Item())
}

func TestEmpty(t *testing.T) {
	x := autograd.Zeros(2, 0, 3)
	d, err := ToDense(x)
	require.NoError(t, err)
	assert.Equal(t, tensor.Shape{2, 0, 3}, d.Shape())
	back, err := FromDense(d)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 0, 3}, back.Shape())
	assert.Equal(t, 0, back.Numel())
}

func TestDtypeError(t *testing.T) {
	for _, d := range []*tensor.Dense{
		tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2})),
		tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]int{1, 2, 3, 4})),
		tensor.New(tensor.WithShape(3), tensor.Of(tensor.Uint8)),
	} {
		x, err := FromDense(d)
		assert.Nil(t, x)
		require.Error(t, err)
		assert.Contains(t, err.Error(), d.Dtype().String())
		assert.Contains(t, err.Error(), "float32")
	}
}

func TestLayoutErrors(t *testing.T) {
	newMat := func() *tensor.Dense {
		return tensor.New(tensor.WithShape(3, 2), tensor.WithBacking(seq(6)))
	}

	t.Run("lazy transpose", func(t *testing.T) {
		d := newMat()
		require.NoError(t, d.T())
		_, err := FromDense(d)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Transpose")
		assert.Contains(t, err.Error(), "Materialize")

		// Applying the transpose makes it usable, with the transposed values.
		require.NoError(t, d.Transpose())
		x, err := FromDense(d)
		require.NoError(t, err)
		assert.Equal(t, []int{2, 3}, x.Shape())
		assert.Equal(t, []float32{1, 3, 5, 2, 4, 6}, x.Data())
	})

	t.Run("contiguous view", func(t *testing.T) {
		v, err := newMat().Slice(tensor.S(1, 3))
		require.NoError(t, err)
		_, err = FromDense(v.(*tensor.Dense))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "view")
		assert.Contains(t, err.Error(), "Materialize")
	})

	t.Run("strided view", func(t *testing.T) {
		v, err := newMat().Slice(nil, tensor.S(1))
		require.NoError(t, err)
		view := v.(*tensor.Dense)
		_, err = FromDense(view)
		require.Error(t, err)

		m := view.Materialize().(*tensor.Dense)
		x, err := FromDense(m)
		require.NoError(t, err)
		assert.Equal(t, []float32{2, 4, 6}, x.Data())
	})

	t.Run("column-major", func(t *testing.T) {
		d := tensor.New(tensor.WithShape(2, 3), tensor.AsFortran(seq(6)))
		_, err := FromDense(d)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "column-major")
	})

	t.Run("masked", func(t *testing.T) {
		d := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2}), tensor.WithMask([]bool{false, true}))
		_, err := FromDense(d)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "mask")
	})

	t.Run("nil", func(t *testing.T) {
		_, err := FromDense(nil)
		assert.Error(t, err)
		_, err = ToDense(nil)
		assert.Error(t, err)
	})
}

func TestRoundTrip(t *testing.T) {
	// Dense -> Tensor -> Dense keeps the same memory and values.
	d := tensor.New(tensor.WithShape(2, 2, 2), tensor.WithBacking(seq(8)))
	x, err := FromDense(d)
	require.NoError(t, err)
	d2, err := ToDense(x)
	require.NoError(t, err)
	assert.True(t, samePointer(t, d.Float32s(), d2.Float32s()))
	assert.Equal(t, d.Shape(), d2.Shape())
	assert.Equal(t, d.Float32s(), d2.Float32s())

	// Tensor -> Dense -> Tensor keeps the same memory and values.
	y := autograd.NewRNG(1).Normal(0, 1, 4, 3)
	dy, err := ToDense(y)
	require.NoError(t, err)
	y2, err := FromDense(dy)
	require.NoError(t, err)
	h1, _ := y.HostData()
	h2, _ := y2.HostData()
	assert.True(t, samePointer(t, h1, h2))
	assert.Equal(t, y.Shape(), y2.Shape())
	assert.Equal(t, y.Data(), y2.Data())

	// Results of gorgonia ops convert too.
	sum, err := tensor.Add(d, d)
	require.NoError(t, err)
	s, err := FromDense(sum.(*tensor.Dense))
	require.NoError(t, err)
	assert.Equal(t, x.MulScalar(2).Data(), s.Data())
}

func TestGradientsFlow(t *testing.T) {
	// loss = sum(tanh(x @ w)) with x and w both living in gorgonia Denses.
	xd := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0.1, -0.2, 0.3, 0.4, 0.5, -0.6}))
	wd := tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float32{1, 2, -1}))
	x, err := FromDense(xd)
	require.NoError(t, err)
	w, err := FromDense(wd)
	require.NoError(t, err)
	w.SetRequiresGrad(true)

	loss := x.MatMul(w).Tanh().Sum()
	loss.Backward()
	require.NotNil(t, w.Grad)
	assert.Nil(t, x.Grad, "x does not require grad")

	// d loss/d w_k = sum_i (1 - tanh(z_i)^2) x_ik with z = x @ w.
	xs, ws := xd.Float32s(), wd.Float32s()
	want := make([]float32, 3)
	for i := 0; i < 2; i++ {
		var z float32
		for k := 0; k < 3; k++ {
			z += xs[i*3+k] * ws[k]
		}
		th := autograd.Scalar(z).Tanh().Item()
		for k := 0; k < 3; k++ {
			want[k] += (1 - th*th) * xs[i*3+k]
		}
	}
	assert.InDeltaSlice(t, want, w.Grad.Data(), 1e-6)

	// The gradient converts back to a Dense without copying.
	gd, err := ToDense(w.Grad)
	require.NoError(t, err)
	assert.Equal(t, wd.Shape(), gd.Shape())
	assert.InDeltaSlice(t, want, gd.Float32s(), 1e-6)

	// An SGD step written through the Dense updates the autograd parameter.
	stepped := make([]float32, 3)
	g := gd.Float32s()
	for i, v := range wd.Float32s() {
		stepped[i] = v - 0.5*g[i]
		wd.Float32s()[i] = stepped[i]
	}
	for i := range 3 {
		assert.Equal(t, stepped[i], w.At(i, 0))
	}
}

func TestGradientOfSquare(t *testing.T) {
	d := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{1, -2, 3, 0.5}))
	x, err := FromDense(d)
	require.NoError(t, err)
	x.SetRequiresGrad(true)
	x.Mul(x).Sum().Backward()
	assert.Equal(t, []float32{2, -4, 6, 1}, x.Grad.Data())
}
