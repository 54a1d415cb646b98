package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// This file holds S4D, the diagonal structured state-space layer (Gu et
// al., "On the Parameterization and Initialization of Diagonal State Space
// Models", 2022), as the reference state-spaces/s4 models/s4/s4d.py, with
// the discretisations and initialisations of its full SSMKernelDiag. The
// state_dict names are the reference's, so its checkpoints load.
//
// Complex numbers are pairs of real tensors (real and imaginary parts) and
// every complex operation is a composition of autograd ops, so gradients
// reach every parameter.

// S4DInit selects how S4DKernel initialises the diagonal state matrix A.
type S4DInit int

// The S4D initialisations of A's N/2 modes n = 0, ..., N/2−1.
const (
	// S4DInitLin is S4D-Lin, the default: A_n = −½ + iπn.
	S4DInitLin S4DInit = iota
	// S4DInitInv is S4D-Inv: A_n = −½ + i(N/π)(N/(2n+1) − 1).
	S4DInitInv
	// S4DInitReal is S4D-Real: A_n = −(n+1), with no imaginary part.
	S4DInitReal
)

// String names the initialisation as the reference's init option does.
func (i S4DInit) String() string {
	switch i {
	case S4DInitLin:
		return "diag-lin"
	case S4DInitInv:
		return "diag-inv"
	case S4DInitReal:
		return "diag-real"
	}
	return fmt.Sprintf("S4DInit(%d)", int(i))
}

// S4DDiscretization selects how S4DKernel discretises the continuous SSM
// with step dt.
type S4DDiscretization int

// The discretisations, for dtA = dt·A.
const (
	// S4DZOH is the zero-order hold, the default: Ā = exp(dtA),
	// B̄ = (exp(dtA) − 1)/A.
	S4DZOH S4DDiscretization = iota
	// S4DBilinear is the bilinear (Tustin) transform:
	// Ā = (1 + dtA/2)/(1 − dtA/2), B̄ = dt/(1 − dtA/2).
	S4DBilinear
)

// String names the discretisation as the reference's disc option does.
func (d S4DDiscretization) String() string {
	switch d {
	case S4DZOH:
		return "zoh"
	case S4DBilinear:
		return "bilinear"
	}
	return fmt.Sprintf("S4DDiscretization(%d)", int(d))
}

// S4DKernelConfig holds S4DKernel's options; the zero value is the
// reference's default (N = 64, dt in [1e-3, 1e-1], S4D-Lin, ZOH).
type S4DKernelConfig struct {
	// N is the state size (d_state): the kernel has N/2 complex modes, the
	// other half being their conjugates. Zero means 64; it must be even.
	N int
	// DtMin and DtMax bound the initial step sizes, drawn log-uniformly;
	// zero means 1e-3 and 1e-1.
	DtMin, DtMax float64
	// Init is the initialisation of A.
	Init S4DInit
	// Disc is the discretisation.
	Disc S4DDiscretization
}

// S4DKernel is the S4D convolution kernel of H independent single-input,
// single-output diagonal SSMs with N/2 complex modes each:
//
//	dt = exp(LogDt)                        [H]
//	A  = −exp(LogAReal) + i·AImag          [H, N/2]
//	K[h, l] = 2·Re Σ_n C[h,n]·B̄[h,n]·Ā[h,n]^l,  l = 0, ..., L−1
//
// with Ā, B̄ from the discretisation (B is 1, absorbed in C). Its
// parameters are named as the reference's S4DKernel: "C" ([H, N/2, 2],
// torch.view_as_real of the complex C), "log_dt" ([H]), "log_A_real" and
// "A_imag" ([H, N/2]). LogDt, LogAReal and AImag are the SSM parameters
// that the reference trains with their own learning rate and no weight
// decay (see SSMParameters and S4DParamGroups).
type S4DKernel struct {
	C        *nn.Parameter `nn:"C"`
	LogDt    *nn.Parameter `nn:"log_dt"`
	LogAReal *nn.Parameter `nn:"log_A_real"`
	AImag    *nn.Parameter `nn:"A_imag"`
	// Disc is the discretisation used by Forward and Step.
	Disc S4DDiscretization
}

// NewS4DKernel returns a kernel for h channels initialised as the
// reference: log dt uniform in [log DtMin, log DtMax], C complex standard
// normal (real and imaginary parts each N(0, ½)), A as cfg.Init, all
// drawn from rng.
func NewS4DKernel(rng *autograd.RNG, h int, cfg S4DKernelConfig) *S4DKernel {
	n, dtMin, dtMax := s4Defaults(cfg)
	if h <= 0 || n <= 0 || n%2 != 0 {
		panic(fmt.Sprintf("layers: NewS4DKernel: %d channels and state size %d: need positive channels and a positive even state size", h, n))
	}
	if dtMin <= 0 || dtMax < dtMin {
		panic(fmt.Sprintf("layers: NewS4DKernel: step range [%v, %v] must be positive and ordered", dtMin, dtMax))
	}
	if cfg.Disc != S4DZOH && cfg.Disc != S4DBilinear {
		panic(fmt.Sprintf("layers: NewS4DKernel: unknown discretisation %d", int(cfg.Disc)))
	}
	m := n / 2
	logDt := make([]float32, h)
	lo, hi := math.Log(dtMin), math.Log(dtMax)
	for i := range logDt {
		logDt[i] = float32(float64(rng.Float32())*(hi-lo) + lo)
	}
	c := make([]float32, h*m*2)
	for i := range c {
		c[i] = rng.NormFloat32() * float32(math.Sqrt(0.5))
	}
	logARe := make([]float32, h*m)
	aIm := make([]float32, h*m)
	for i := 0; i < h; i++ {
		for j := 0; j < m; j++ {
			re, im := 0.5, 0.0
			switch cfg.Init {
			case S4DInitLin:
				im = math.Pi * float64(j)
			case S4DInitInv:
				im = float64(n) / math.Pi * (float64(n)/float64(2*j+1) - 1)
			case S4DInitReal:
				re = float64(j + 1)
			default:
				panic(fmt.Sprintf("layers: NewS4DKernel: unknown initialisation %d", int(cfg.Init)))
			}
			logARe[i*m+j] = float32(math.Log(re))
			aIm[i*m+j] = float32(im)
		}
	}
	return &S4DKernel{
		C:        nn.NewParameter(autograd.New(c, h, m, 2)),
		LogDt:    nn.NewParameter(autograd.New(logDt, h)),
		LogAReal: nn.NewParameter(autograd.New(logARe, h, m)),
		AImag:    nn.NewParameter(autograd.New(aIm, h, m)),
		Disc:     cfg.Disc,
	}
}

func s4Defaults(cfg S4DKernelConfig) (n int, dtMin, dtMax float64) {
	n, dtMin, dtMax = cfg.N, cfg.DtMin, cfg.DtMax
	if n == 0 {
		n = 64
	}
	if dtMin == 0 {
		dtMin = 1e-3
	}
	if dtMax == 0 {
		dtMax = 1e-1
	}
	return n, dtMin, dtMax
}

// Channels returns H, the number of independent SSMs.
func (k *S4DKernel) Channels() int { return k.LogDt.Size(0) }

// Modes returns N/2, the number of complex modes per channel.
func (k *S4DKernel) Modes() int { return k.AImag.Size(1) }

// SSMParameters returns the SSM parameters LogDt, LogAReal and AImag: the
// ones the reference trains with their own (smaller) learning rate and no
// weight decay. C is not among them.
func (k *S4DKernel) SSMParameters() []*nn.Parameter {
	return []*nn.Parameter{k.LogDt, k.LogAReal, k.AImag}
}

// Forward returns the kernel K of shape [H, L], L ≥ 1. It never forms the
// [H, N/2, L] Vandermonde matrix of the reference: the powers factor as
// Ā^{qR+r} = Ā^{qR}·Ā^r with R ≈ √L, so K is a batched product of
// [Q, N/2] and [N/2, R] matrices, and only O(H·N·√L) exponentials are
// taken.
func (k *S4DKernel) Forward(l int) *autograd.Tensor {
	if l <= 0 {
		panic(fmt.Sprintf("layers: S4DKernel: kernel length %d must be positive", l))
	}
	d := k.s4Discretize()
	return d.kernel(d.powers(l), l)
}

// Step advances the recurrence by one sample: for u of shape [B, H] and
// state x of shape [B, H, N/2, 2] (complex, as real pairs; nil means
// zeros) it returns y_k = 2·Re Σ_n C_n x'_n, of shape [B, H], and the next
// state x' = Ā·x + B̄·u. Step and Forward describe the same system: running
// Step over a sequence from a zero state gives the causal convolution of
// the sequence with Forward's kernel.
func (k *S4DKernel) Step(u, state *autograd.Tensor) (y, next *autograd.Tensor) {
	h, m := k.Channels(), k.Modes()
	if u.Dim() != 2 || u.Size(1) != h {
		panic(fmt.Sprintf("layers: S4DKernel.Step: input of shape %v is not [B, %d]", u.Shape(), h))
	}
	b := u.Size(0)
	x := s4SplitState("S4DKernel.Step", state, u.Device(), b, h, m)
	d := k.s4Discretize()
	uu := u.Unsqueeze(2) // [B, H, 1]
	xn := d.dA.mul(x).add(s4Complex{d.dB.re.Mul(uu), d.dB.im.Mul(uu)})
	cx := d.c.mul(xn)
	return cx.re.Sum(2).MulScalar(2), xn.stack()
}

// ForwardState runs the SSM over u ([B, H, L]) in convolution mode from
// the state x ([B, H, N/2, 2], nil for zeros) and returns its output
// ([B, H, L], without the D skip of S4D) and the state after the last
// sample:
//
//	y[l]  = (K ∗ u)[l] + 2·Re Σ_n C_n Ā_n^{l+1} x_n
//	x'    = Ā^L x + Σ_j Ā^{L−1−j} B̄ u_j
//
// so a sequence cut into chunks, each run from the state the previous one
// returned, gives the output of one pass over the whole sequence.
func (k *S4DKernel) ForwardState(u, state *autograd.Tensor) (y, next *autograd.Tensor) {
	h, m := k.Channels(), k.Modes()
	if u.Dim() != 3 || u.Size(1) != h || u.Size(2) == 0 {
		panic(fmt.Sprintf("layers: S4DKernel.ForwardState: input of shape %v is not [B, %d, L] with L ≥ 1", u.Shape(), h))
	}
	b, l := u.Size(0), u.Size(2)
	d := k.s4Discretize()
	p := d.powers(l)
	y = autograd.CausalConv(u, d.kernel(p, l))
	q, r := p.q, p.r
	hiT := s4Complex{p.hi.re.Narrow(2, 0, q).Transpose(1, 2), p.hi.im.Narrow(2, 0, q).Transpose(1, 2)}.unsqueeze(1) // [H, 1, Q, M]
	// The input's contribution to the next state, Σ_l Ā^l u[L−1−l] with
	// l = q·R + r: Σ_q Ā^{qR} Σ_r Ā^r u[L−1−qR−r].
	ur := u.Flip(2)
	if q*r > l {
		ur = ur.Pad([]int{0, q*r - l}, autograd.PadConstant, 0)
	}
	ur = ur.Permute(1, 0, 2).Reshape(h, b*q, r)
	part := s4Complex{autograd.MatMulT(ur, p.lo.re, false, true), autograd.MatMulT(ur, p.lo.im, false, true)} // [H, B·Q, M]
	part = s4Complex{part.re.Reshape(h, b, q, m), part.im.Reshape(h, b, q, m)}.mul(hiT)
	nx := s4Complex{part.re.Sum(2), part.im.Sum(2)}.mul(d.dB.unsqueeze(1)) // [H, B, M]
	if state != nil {
		x := s4SplitState("S4DKernel.ForwardState", state, u.Device(), b, h, m)
		xt := s4Complex{x.re.Permute(1, 0, 2), x.im.Permute(1, 0, 2)} // [H, B, M]
		// The state's contribution to the outputs: 2·Re Σ_n w_n Ā_n^l with
		// w = C·Ā·x, again split as l = q·R + r.
		w := d.c.unsqueeze(1).mul(d.dA.unsqueeze(1)).mul(xt).unsqueeze(2).mul(hiT) // [H, B, Q, M]
		w = s4Complex{w.re.Reshape(h, b*q, m), w.im.Reshape(h, b*q, m)}
		ys := w.re.MatMul(p.lo.re).Sub(w.im.MatMul(p.lo.im)).MulScalar(2) // [H, B·Q, R]
		ys = ys.Reshape(h, b, q*r)
		if q*r > l {
			ys = ys.Narrow(2, 0, l)
		}
		y = y.Add(ys.Permute(1, 0, 2))
		// Ā^L = Ā^{(L/R)·R}·Ā^{L mod R}.
		al := s4Complex{p.hi.re.Narrow(2, l/r, 1), p.hi.im.Narrow(2, l/r, 1)}.mul(s4Complex{p.lo.re.Narrow(2, l%r, 1), p.lo.im.Narrow(2, l%r, 1)})
		al = s4Complex{al.re.Reshape(h, 1, m), al.im.Reshape(h, 1, m)}
		nx = nx.add(al.mul(xt))
	}
	next = s4Complex{nx.re.Permute(1, 0, 2), nx.im.Permute(1, 0, 2)}.stack()
	return y, next
}

// S4DConfig holds S4D's options; the zero value is the reference's default
// layer (N = 64, dt in [1e-3, 1e-1], S4D-Lin, ZOH, no dropout).
type S4DConfig struct {
	// Kernel configures the SSM kernel.
	Kernel S4DKernelConfig
	// Dropout is the probability of dropping a channel of a sample (the
	// reference's DropoutNd: one mask per (sample, channel), tied across
	// the sequence) after the activation.
	Dropout float64
}

// S4D is the S4D layer of the reference s4d.py over u of shape [B, H, L]:
//
//	y = K ∗ u + D ⊙ u        the SSM, K from S4DKernel (causal convolution)
//	y = Dropout(GELU(y))
//	y = GLU(Conv1d_{1×1, H→2H}(y))   over the channel dimension
//
// with output of shape [B, H, L]. Its parameters are named as the
// reference's ("D", "kernel.C", "kernel.log_dt", "kernel.log_A_real",
// "kernel.A_imag", "output_linear.0.weight", "output_linear.0.bias").
// Besides Forward (convolution mode, through autograd.CausalConv) it runs
// recurrently for generation (Step) and in chunks with a carried state
// (ForwardState). Hold it by pointer so that nn.Train and nn.Eval reach its
// Mode.
type S4D struct {
	nn.Mode
	D            *nn.Parameter `nn:"D"`
	Kernel       *S4DKernel
	OutputLinear *S4DOutputLinear
	// Dropout is the probability of dropping a (sample, channel) after the
	// activation, in training mode.
	Dropout float64
	rng     *autograd.RNG
}

// S4DOutputLinear is the position-wise output transform of S4D, the
// reference's nn.Sequential(nn.Conv1d(H, 2H, 1), nn.GLU(dim=−2)): its
// parameters are "0.weight" ([2H, H, 1]) and "0.bias" ([2H]).
type S4DOutputLinear struct {
	Conv *nn.Conv1d `nn:"0"`
}

// Forward maps x of shape [B, H, L] to GLU(Conv(x)) of shape [B, H, L]:
// the first H output channels gated by the sigmoid of the last H.
func (o *S4DOutputLinear) Forward(x *autograd.Tensor) *autograd.Tensor {
	y := o.Conv.Forward(x)
	h := y.Size(1) / 2
	return y.Narrow(1, 0, h).Mul(y.Narrow(1, h, h).Sigmoid())
}

// NewS4D returns an S4D layer over h channels, initialised as the
// reference: the kernel as NewS4DKernel, D standard normal, the output
// convolution as torch.nn.Conv1d; rng also draws the dropout masks.
func NewS4D(rng *autograd.RNG, h int, cfg S4DConfig) *S4D {
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		panic(fmt.Sprintf("layers: NewS4D: dropout %v is outside [0, 1)", cfg.Dropout))
	}
	kern := NewS4DKernel(rng, h, cfg.Kernel)
	return &S4D{
		D:            nn.NewParameter(rng.Normal(0, 1, h)),
		Kernel:       kern,
		OutputLinear: &S4DOutputLinear{Conv: nn.NewConv1d(rng, h, 2*h, 1, nn.Conv1dConfig{})},
		Dropout:      cfg.Dropout,
		rng:          rng,
	}
}

// Forward applies the layer to u of shape [B, H, L] in convolution mode.
func (s *S4D) Forward(u *autograd.Tensor) *autograd.Tensor {
	s.s4CheckInput("S4D", u)
	y := autograd.CausalConv(u, s.Kernel.Forward(u.Size(2)))
	return s.s4Pointwise(u, y)
}

// ForwardState is Forward from a carried state: it returns the output and
// the SSM's state after the last sample (see S4DKernel.ForwardState). A nil
// state means zeros, and the result then equals Forward's.
func (s *S4D) ForwardState(u, state *autograd.Tensor) (y, next *autograd.Tensor) {
	s.s4CheckInput("S4D.ForwardState", u)
	y, next = s.Kernel.ForwardState(u, state)
	return s.s4Pointwise(u, y), next
}

// Step runs the layer on one sample per sequence, u of shape [B, H], from
// the state of shape [B, H, N/2, 2] (nil for zeros), and returns the output
// [B, H] and the next state: the recurrent mode, for generating a sequence
// one sample at a time. Over a sequence it gives what Forward gives (in
// evaluation mode, or without dropout).
func (s *S4D) Step(u, state *autograd.Tensor) (y, next *autograd.Tensor) {
	y, next = s.Kernel.Step(u, state)
	y3 := s.s4Pointwise(u.Unsqueeze(2), y.Unsqueeze(2))
	return y3.Squeeze(2), next
}

// DefaultState returns the zero state for a batch of b sequences:
// [b, H, N/2, 2].
func (s *S4D) DefaultState(b int) *autograd.Tensor {
	return autograd.ZerosOn(s.D.Device(), b, s.Kernel.Channels(), s.Kernel.Modes(), 2)
}

// SSMParameters returns the kernel's SSM parameters (see
// S4DKernel.SSMParameters).
func (s *S4D) SSMParameters() []*nn.Parameter { return s.Kernel.SSMParameters() }

// s4CheckInput panics unless u is [B, H, L] with L ≥ 1.
func (s *S4D) s4CheckInput(op string, u *autograd.Tensor) {
	if h := s.D.Size(0); u.Dim() != 3 || u.Size(1) != h || u.Size(2) == 0 {
		panic(fmt.Sprintf("layers: %s: input of shape %v is not [B, %d, L] with L ≥ 1", op, u.Shape(), h))
	}
}

// s4Pointwise adds the D skip to the SSM output y and applies the
// activation, the dropout and the output transform; u and y are
// [B, H, L].
func (s *S4D) s4Pointwise(u, y *autograd.Tensor) *autograd.Tensor {
	h := s.D.Size(0)
	y = y.Add(u.Mul(s.D.Reshape(h, 1))).Gelu()
	if s.Training() && s.Dropout > 0 {
		if s.rng == nil {
			panic("layers: S4D: dropout needs an RNG; create the layer with NewS4D")
		}
		b := y.Size(0)
		keep := 1 - s.Dropout
		mask := make([]float32, b*h)
		for i := range mask {
			if float64(s.rng.Float32()) < keep {
				mask[i] = float32(1 / keep)
			}
		}
		y = y.Mul(autograd.New(mask, b, h, 1).To(y.Device()))
	}
	return s.OutputLinear.Forward(y)
}

// S4DParamGroups splits the parameters of model (a struct holding S4D
// layers or kernels, as nn walks it) into optimizer groups as the
// reference's training script does: the SSM parameters — those named
// "log_dt", "log_A_real" or "A_imag", S4DKernel's — with learning rate
// ssmLR and no weight decay, and all the others with lr and weightDecay.
// Groups without parameters are left out.
func S4DParamGroups(model any, lr, weightDecay, ssmLR float64) []optim.ParamGroup {
	var ssm, rest []*nn.Parameter
	for _, np := range nn.NamedParameters(model) {
		name := np.Name[strings.LastIndex(np.Name, ".")+1:]
		switch name {
		case "log_dt", "log_A_real", "A_imag":
			ssm = append(ssm, np.Param)
		default:
			rest = append(rest, np.Param)
		}
	}
	var groups []optim.ParamGroup
	if len(rest) > 0 {
		groups = append(groups, optim.ParamGroup{Params: rest, LR: lr, WeightDecay: weightDecay})
	}
	if len(ssm) > 0 {
		groups = append(groups, optim.ParamGroup{Params: ssm, LR: ssmLR})
	}
	return groups
}

// s4Complex is a complex tensor as its real and imaginary parts.
type s4Complex struct{ re, im *autograd.Tensor }

func (a s4Complex) unsqueeze(axis int) s4Complex {
	return s4Complex{a.re.Unsqueeze(axis), a.im.Unsqueeze(axis)}
}

func (a s4Complex) add(b s4Complex) s4Complex { return s4Complex{a.re.Add(b.re), a.im.Add(b.im)} }

func (a s4Complex) mul(b s4Complex) s4Complex {
	return s4Complex{a.re.Mul(b.re).Sub(a.im.Mul(b.im)), a.re.Mul(b.im).Add(a.im.Mul(b.re))}
}

func (a s4Complex) div(b s4Complex) s4Complex {
	den := b.re.Square().Add(b.im.Square())
	return s4Complex{
		a.re.Mul(b.re).Add(a.im.Mul(b.im)).Div(den),
		a.im.Mul(b.re).Sub(a.re.Mul(b.im)).Div(den),
	}
}

func s4Exp(z s4Complex) s4Complex {
	m := z.re.Exp()
	return s4Complex{m.Mul(z.im.Cos()), m.Mul(z.im.Sin())}
}

// stack packs the parts into one tensor with a trailing axis of 2, as
// torch.view_as_real.
func (a s4Complex) stack() *autograd.Tensor {
	return autograd.Stack([]*autograd.Tensor{a.re, a.im}, -1)
}

// s4SplitState checks a [B, H, M, 2] state (nil: zeros) and splits it.
func s4SplitState(op string, state *autograd.Tensor, dev autograd.Device, b, h, m int) s4Complex {
	if state == nil {
		z := autograd.ZerosOn(dev, b, h, m)
		return s4Complex{z, z}
	}
	if s := state.Shape(); len(s) != 4 || s[0] != b || s[1] != h || s[2] != m || s[3] != 2 {
		panic(fmt.Sprintf("layers: %s: state of shape %v is not [%d, %d, %d, 2]", op, state.Shape(), b, h, m))
	}
	return s4Complex{state.Narrow(3, 0, 1).Reshape(b, h, m), state.Narrow(3, 1, 1).Reshape(b, h, m)}
}

// s4Discrete is a discretised kernel: dtA = dt·A, Ā, B̄ and C, each
// [H, M].
type s4Discrete struct {
	disc        S4DDiscretization
	dtA, dA, dB s4Complex
	c           s4Complex
}

// s4Discretize computes the discrete system from the parameters.
func (k *S4DKernel) s4Discretize() s4Discrete {
	h, m := k.Channels(), k.Modes()
	dt := k.LogDt.Exp().Reshape(h, 1)
	a := s4Complex{k.LogAReal.Exp().Neg(), k.AImag.Tensor}
	dtA := s4Complex{a.re.Mul(dt), a.im.Mul(dt)}
	d := s4Discrete{disc: k.Disc, dtA: dtA}
	switch k.Disc {
	case S4DZOH:
		d.dA = s4Exp(dtA)
		d.dB = s4Complex{d.dA.re.SubScalar(1), d.dA.im}.div(a)
	case S4DBilinear:
		half := s4Complex{dtA.re.MulScalar(0.5), dtA.im.MulScalar(0.5)}
		den := s4Complex{half.re.Neg().AddScalar(1), half.im.Neg()}
		d.dA = s4Complex{half.re.AddScalar(1), half.im}.div(den)
		d.dB = s4Complex{dt.Expand(h, m), autograd.ZerosOn(dt.Device(), h, m)}.div(den)
	default:
		panic(fmt.Sprintf("layers: S4DKernel: unknown discretisation %d", int(k.Disc)))
	}
	c := k.C.Tensor
	d.c = s4Complex{c.Narrow(2, 0, 1).Reshape(h, m), c.Narrow(2, 1, 1).Reshape(h, m)}
	return d
}

// s4Powers holds the powers Ā^l, l = 0, ..., Q·R−1, factored as
// Ā^{q·R + r} = hi[q]·lo[r], so that sums over l become small matrix
// products and the [H, M, L] Vandermonde matrix is never formed.
type s4Powers struct {
	q, r int
	lo   s4Complex // Ā^r, r < R: [H, M, R]
	hi   s4Complex // Ā^{q·R}, q ≤ Q: [H, M, Q+1]
}

// powers returns the factored powers for sequences of length l: R is the
// power of two nearest above √l and Q = ⌈l/R⌉. ZOH takes them as
// exp(l·dtA); the bilinear transform, whose logarithm would need a
// complex argument, by repeated squaring.
func (d s4Discrete) powers(l int) s4Powers {
	r := 1
	for r*r < l {
		r *= 2
	}
	q := (l + r - 1) / r
	p := s4Powers{q: q, r: r}
	if d.disc == S4DZOH {
		dev := d.dtA.re.Device()
		lo := autograd.Arange(0, float32(r), 1).To(dev)
		hi := autograd.Arange(0, float32((q+1)*r), float32(r)).To(dev)
		p.lo = s4Exp(s4Complex{d.dtA.re.Unsqueeze(2).Mul(lo), d.dtA.im.Unsqueeze(2).Mul(lo)})
		p.hi = s4Exp(s4Complex{d.dtA.re.Unsqueeze(2).Mul(hi), d.dtA.im.Unsqueeze(2).Mul(hi)})
		return p
	}
	p.lo = s4PowerSeries(d.dA.unsqueeze(2), r)
	last := s4Complex{p.lo.re.Narrow(2, r-1, 1), p.lo.im.Narrow(2, r-1, 1)}
	p.hi = s4PowerSeries(last.mul(d.dA.unsqueeze(2)), q+1)
	return p
}

// s4PowerSeries returns base^0, ..., base^(n−1) along the last axis for a
// base of shape [H, M, 1], by doubling: the second half of each step is the
// first times base^len.
func s4PowerSeries(base s4Complex, n int) s4Complex {
	h, m := base.re.Size(0), base.re.Size(1)
	dev := base.re.Device()
	p := s4Complex{autograd.FullOn(dev, 1, h, m, 1), autograd.ZerosOn(dev, h, m, 1)}
	pw := base // base^len(p)
	for k := 1; k < n; k *= 2 {
		hi := p.mul(pw)
		p = s4Complex{autograd.Concat([]*autograd.Tensor{p.re, hi.re}, 2), autograd.Concat([]*autograd.Tensor{p.im, hi.im}, 2)}
		if 2*k < n {
			pw = pw.mul(pw)
		}
	}
	if p.re.Size(2) > n {
		p = s4Complex{p.re.Narrow(2, 0, n), p.im.Narrow(2, 0, n)}
	}
	return p
}

// kernel returns K[h, l] = 2·Re Σ_n C_n B̄_n Ā_n^l for l < L, of shape
// [H, L], as the batched product over h of W[q, n] = (C B̄)_n Ā_n^{qR} and
// lo[n, r] = Ā_n^r.
func (d s4Discrete) kernel(p s4Powers, l int) *autograd.Tensor {
	h := d.c.re.Size(0)
	hi := s4Complex{p.hi.re.Narrow(2, 0, p.q), p.hi.im.Narrow(2, 0, p.q)}
	w := d.c.mul(d.dB).unsqueeze(2).mul(hi) // [H, M, Q]
	k := autograd.MatMulT(w.re, p.lo.re, true, false).Sub(autograd.MatMulT(w.im, p.lo.im, true, false))
	k = k.MulScalar(2).Reshape(h, p.q*p.r)
	if p.q*p.r > l {
		k = k.Narrow(1, 0, l)
	}
	return k
}
