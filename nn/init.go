package nn

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// The initialisers below fill a tensor in place, as torch.nn.init's
// functions with a trailing underscore, and return it. They work on
// parameters (pass p.Tensor) without a NoGrad scope of their own, and on
// tensors on any device: values are drawn on the host from the explicit
// RNG, then copied to the tensor's device. The distributions, bounds and
// gains are torch's; the numbers differ, since the generator does.

// FanMode selects which fan a Kaiming initialiser preserves the variance
// of: FanIn (the forward pass, torch's default) or FanOut (the backward
// pass).
type FanMode int

// The fan modes of KaimingUniform and KaimingNormal.
const (
	FanIn FanMode = iota
	FanOut
)

// Fans returns the fan-in and fan-out of a weight of the given shape, as
// torch.nn.init._calculate_fan_in_and_fan_out: for [out, in, k...] they are
// in·∏k and out·∏k. It panics for fewer than two dimensions.
func Fans(shape []int) (fanIn, fanOut int) {
	if len(shape) < 2 {
		panic(fmt.Sprintf("nn: Fans: fan in and fan out cannot be computed for a tensor of shape %v (fewer than 2 dimensions)", shape))
	}
	receptive := 1
	for _, s := range shape[2:] {
		receptive *= s
	}
	return shape[1] * receptive, shape[0] * receptive
}

// CalculateGain returns the recommended gain for a nonlinearity, as
// torch.nn.init.calculate_gain: 1 for "linear", "identity", "sigmoid" and
// the conv names, 5/3 for "tanh", √2 for "relu", √(2/(1+param²)) for
// "leaky_relu" (param is the negative slope; torch's default is 0.01), 3/4
// for "selu". Other names panic.
func CalculateGain(nonlinearity string, param float64) float64 {
	switch nonlinearity {
	case "linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid":
		return 1
	case "tanh":
		return 5.0 / 3
	case "relu":
		return math.Sqrt(2)
	case "leaky_relu":
		return math.Sqrt(2 / (1 + param*param))
	case "selu":
		return 3.0 / 4
	}
	panic(fmt.Sprintf("nn: CalculateGain: unsupported nonlinearity %q (have linear, identity, conv*, sigmoid, tanh, relu, leaky_relu, selu)", nonlinearity))
}

// fill copies host values into t, on t's device, outside the graph.
func fill(t *autograd.Tensor, data []float32) *autograd.Tensor {
	src := autograd.New(data, t.Shape()...).To(t.Device())
	autograd.NoGrad(func() { t.CopyFrom(src) })
	return t
}

func draw(n int, f func() float64) []float32 {
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(f())
	}
	return data
}

func checkRNG(fn string, rng *autograd.RNG) {
	if rng == nil {
		panic(fmt.Sprintf("nn: %s: nil RNG; pass one from autograd.NewRNG(seed)", fn))
	}
}

// Uniform fills t with values drawn from U(lo, hi).
func Uniform(t *autograd.Tensor, lo, hi float64, rng *autograd.RNG) *autograd.Tensor {
	checkRNG("Uniform", rng)
	return fill(t, draw(t.Numel(), func() float64 { return lo + (hi-lo)*float64(rng.Float32()) }))
}

// Normal fills t with values drawn from N(mean, std²).
func Normal(t *autograd.Tensor, mean, std float64, rng *autograd.RNG) *autograd.Tensor {
	checkRNG("Normal", rng)
	return fill(t, draw(t.Numel(), func() float64 { return mean + std*float64(rng.NormFloat32()) }))
}

// Constant fills t with v.
func Constant(t *autograd.Tensor, v float64) *autograd.Tensor {
	autograd.NoGrad(func() { t.CopyFrom(autograd.FullOn(t.Device(), float32(v))) })
	return t
}

// Zeros fills t with zeros.
func Zeros(t *autograd.Tensor) *autograd.Tensor { return Constant(t, 0) }

// Ones fills t with ones.
func Ones(t *autograd.Tensor) *autograd.Tensor { return Constant(t, 1) }

// XavierUniform fills t from U(−a, a) with a = gain·√(6/(fan_in+fan_out)),
// as torch.nn.init.xavier_uniform_ (Glorot).
func XavierUniform(t *autograd.Tensor, gain float64, rng *autograd.RNG) *autograd.Tensor {
	in, out := Fans(t.Shape())
	a := math.Sqrt(3) * gain * math.Sqrt(2/float64(in+out))
	return Uniform(t, -a, a, rng)
}

// XavierNormal fills t from N(0, std²) with std = gain·√(2/(fan_in+fan_out)),
// as torch.nn.init.xavier_normal_.
func XavierNormal(t *autograd.Tensor, gain float64, rng *autograd.RNG) *autograd.Tensor {
	in, out := Fans(t.Shape())
	return Normal(t, 0, gain*math.Sqrt(2/float64(in+out)), rng)
}

func kaimingStd(fn string, t *autograd.Tensor, a float64, mode FanMode, nonlinearity string) float64 {
	in, out := Fans(t.Shape())
	fan := in
	switch mode {
	case FanIn:
	case FanOut:
		fan = out
	default:
		panic(fmt.Sprintf("nn: %s: unknown fan mode %d (use FanIn or FanOut)", fn, mode))
	}
	if fan == 0 {
		return 0
	}
	return CalculateGain(nonlinearity, a) / math.Sqrt(float64(fan))
}

// KaimingUniform fills t from U(−b, b) with b = gain·√(3/fan), as
// torch.nn.init.kaiming_uniform_(t, a, mode, nonlinearity): gain is
// CalculateGain(nonlinearity, a) and fan the fan-in or fan-out. torch's
// defaults are a=0, FanIn, "leaky_relu"; torch.nn.Linear uses a=√5.
func KaimingUniform(t *autograd.Tensor, a float64, mode FanMode, nonlinearity string, rng *autograd.RNG) *autograd.Tensor {
	b := math.Sqrt(3) * kaimingStd("KaimingUniform", t, a, mode, nonlinearity)
	return Uniform(t, -b, b, rng)
}

// KaimingNormal fills t from N(0, std²) with std = gain/√fan, as
// torch.nn.init.kaiming_normal_ (see KaimingUniform for the arguments).
func KaimingNormal(t *autograd.Tensor, a float64, mode FanMode, nonlinearity string, rng *autograd.RNG) *autograd.Tensor {
	return Normal(t, 0, kaimingStd("KaimingNormal", t, a, mode, nonlinearity), rng)
}

// TruncNormal fills t from N(mean, std²) truncated to [a, b] (absolute
// bounds, torch's defaults are −2 and 2), by the inverse-CDF method of
// torch.nn.init.trunc_normal_: uniform values between the CDFs of the
// bounds are mapped through the inverse error function, then clamped.
func TruncNormal(t *autograd.Tensor, mean, std, a, b float64, rng *autograd.RNG) *autograd.Tensor {
	checkRNG("TruncNormal", rng)
	if !(a < b) || std < 0 {
		panic(fmt.Sprintf("nn: TruncNormal: need a < b and std ≥ 0, got a=%v b=%v std=%v", a, b, std))
	}
	cdf := func(x float64) float64 { return (1 + math.Erf(x/math.Sqrt2)) / 2 }
	l, u := cdf((a-mean)/std), cdf((b-mean)/std)
	lo, hi := 2*l-1, 2*u-1
	return fill(t, draw(t.Numel(), func() float64 {
		v := lo + (hi-lo)*float64(rng.Float32())
		v = math.Erfinv(v)*std*math.Sqrt2 + mean
		return math.Min(math.Max(v, a), b)
	}))
}

// Orthogonal fills t with a (semi-)orthogonal matrix times gain, as
// torch.nn.init.orthogonal_: t is viewed as [rows, numel/rows], a matrix of
// standard normal values is drawn, and its QR factor Q (with the signs that
// make R's diagonal positive) is used, transposed when rows < cols, so the
// rows (or the columns, whichever are fewer) are orthonormal. The QR runs
// in float64 by modified Gram–Schmidt with reorthogonalisation.
func Orthogonal(t *autograd.Tensor, gain float64, rng *autograd.RNG) *autograd.Tensor {
	checkRNG("Orthogonal", rng)
	if t.Dim() < 2 {
		panic(fmt.Sprintf("nn: Orthogonal: only tensors with 2 or more dimensions are supported, got shape %v", t.Shape()))
	}
	if t.Numel() == 0 {
		return t
	}
	rows := t.Size(0)
	cols := t.Numel() / rows
	flat := make([]float64, rows*cols) // rows × cols, row-major
	for i := range flat {
		flat[i] = float64(rng.NormFloat32())
	}
	// a is m × n with m ≥ n, stored column by column.
	m, n := rows, cols
	transposed := rows < cols
	if transposed {
		m, n = cols, rows
	}
	colsOf := make([][]float64, n)
	for j := range colsOf {
		c := make([]float64, m)
		for i := range c {
			if transposed {
				c[i] = flat[j*cols+i] // column j of flatᵀ is row j of flat
			} else {
				c[i] = flat[i*cols+j]
			}
		}
		colsOf[j] = c
	}
	for j := 0; j < n; j++ {
		q := colsOf[j]
		for pass := 0; pass < 2; pass++ {
			for k := 0; k < j; k++ {
				dot := 0.0
				for i := range q {
					dot += colsOf[k][i] * q[i]
				}
				for i := range q {
					q[i] -= dot * colsOf[k][i]
				}
			}
		}
		norm := 0.0
		for _, v := range q {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			panic("nn: Orthogonal: drew a rank-deficient matrix; try another seed")
		}
		for i := range q {
			q[i] /= norm
		}
	}
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			var v float64
			if transposed {
				v = colsOf[r][c] // Qᵀ: row r is column r of Q
			} else {
				v = colsOf[c][r]
			}
			out[r*cols+c] = float32(gain * v)
		}
	}
	return fill(t, out)
}
