//go:build ignore

// vmath_gen.go writes the vectorised elementwise and reduction kernels of
// package cpu:
//
//	vmath_amd64.s    the kernels in AVX2+FMA assembly (8 lanes, masked tails)
//	vmath_amd64.go   their declarations and the dispatching slice wrappers
//	vmath_other.go   the wrappers for other architectures (portable only)
//	vmath_kern.go    the portable kernels and the shared coefficients
//
// Each kernel is written once below, as straight-line code over a small
// vector instruction set (add, FMA, max with x86 NaN rules, compare and
// blend, integer lane shifts, ...). The same description is emitted twice:
// as assembly over ymm registers, and as portable Go over float32 variables
// that performs the same operations in the same order, each rounded to
// float32 as the hardware does (an FMA rounds once). So the two paths run
// one algorithm and agree to float32 rounding (bit for bit but for the rare
// double rounding of an emulated FMA). Run it with
//
//	go generate ./internal/cpu
//
// The polynomial coefficients come from vmath_fit.py (minimax fits, rounded
// to float32 and refitted); its header says how to rerun it.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------------
// Constants shared by the assembly (as 8-lane DATA) and the Go kernels.

type constDef struct {
	name string
	bits uint32
	doc  string
	// isFloat: a float32 value (a Go constant); otherwise a bit pattern (a
	// Go variable made with math.Float32frombits).
	isFloat bool
}

var consts []constDef
var constByName = map[string]int{}

func defF(name string, v float64, doc string) {
	constByName[name] = len(consts)
	consts = append(consts, constDef{name, math.Float32bits(float32(v)), doc, true})
}

func defB(name string, bits uint32, doc string) {
	constByName[name] = len(consts)
	consts = append(consts, constDef{name, bits, doc, false})
}

func defFs(prefix string, doc string, vs ...float64) {
	for i, v := range vs {
		defF(fmt.Sprintf("%s%d", prefix, i), v, fmt.Sprintf("%s, coefficient %d", doc, i))
	}
}

func hexf(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
}

func init() {
	defF("zero", 0, "0")
	defF("one", 1, "1")
	defF("two", 2, "2")
	defF("half", 0.5, "1/2")
	defB("sign", 0x80000000, "the sign bit")
	defB("abs", 0x7fffffff, "all bits but the sign")
	defB("pinf", 0x7f800000, "+Inf")
	defB("ninf", 0xff800000, "−Inf")
	defB("qnan", 0x7fc00000, "the default quiet NaN")
	defB("bias", 127, "the float32 exponent bias, as an integer lane")
	defB("mant", 0x007fffff, "the float32 mantissa bits")

	// exp: e^x = 2^n · e^r, n = round(x·log2 e), r = x − n·ln 2 (Cody–Waite,
	// two FMAs), e^r = 1 + r·(1 + r·P(r)) on |r| ≤ ln2/2, P of degree 4 with
	// relative error 1.3e-7 (1.3e-8 in e^r). For |x| ≤ expFast, n·2^23 comes
	// from the bits of the rounding sum (one shift) and is added to e^r's
	// exponent field. Elsewhere (rare: a branch per 8
	// lanes) x is clamped to [expLo, expHi], where the result is already 0
	// or +Inf, and 2^n is applied as 2^(n>>1)·2^(n−n>>1) (both normal for n
	// in [−252, 254]) so that subnormal results round once and correctly.
	defF("expLo", -150, "below it e^x rounds to 0 (and both factors of 2^n stay normal)")
	defF("expHi", 89, "above it e^x is +Inf")
	defF("log2e", math.Log2E, "log2 e")
	defF("expMagic", 12582912, "1.5·2^23: x·log2e + expMagic rounds to an integer n, held in the low mantissa bits")
	defF("expFast", 86.5, "below it in magnitude e^x is normal with n in [−125, 125]")
	defF("expLn2hi", math.Ln2, "ln 2 rounded to float32")
	defF("expLn2lo", math.Ln2-float64(float32(math.Ln2)), "ln 2 − expLn2hi")
	defFs("expP", "(e^r − 1 − r)/r² on [−ln2/2, ln2/2]",
		hexf("0x1.0000000000000p-1"), hexf("0x1.5554de0000000p-3"), hexf("0x1.5555ba0000000p-5"),
		hexf("0x1.120b1c0000000p-7"), hexf("0x1.6c69ea0000000p-10"))
	defF("eluLo", -87, "below it e^x − 1 rounds to −1")

	// tanh: x + x³·T(x²) below 0.625 (T of degree 4, relative error of
	// tanh 8.7e-9), else sign(x)·(1 − 2/(e^2|x| + 1)).
	defF("tanhSplit", 0.625, "where tanh switches from the polynomial to exp")
	defFs("tanhT", "(tanh x − x)/x³ in z = x² on [0, 0.625²]",
		hexf("-0x1.5555320000000p-2"), hexf("0x1.1107260000000p-3"), hexf("-0x1.b83c580000000p-5"),
		hexf("0x1.5226920000000p-6"), hexf("-0x1.75e1a80000000p-8"))

	// erf: x + x·Q(x²) below erfSplit (Q of degree 6, relative error
	// 1.4e-8); above, erfc(t) = e^(−t²)·G(1/t)/t with t² carried as a
	// double-float and G of degree 11 in u = 1/t on [1/10.5, 1/erfSplit],
	// mapped to [−1, 1] so that the coefficients decay (relative error
	// 4.5e-8).
	defF("erfSplit", 0.927734375, "where erf switches from the series polynomial to erfc")
	defF("erfHi", 4, "erf's argument clamp: erf rounds to ±1 beyond 3.92")
	defFs("erfQ", "erf(x)/x − 1 in z = x² on [0, erfSplit²]",
		hexf("0x1.06eba80000000p-3"), hexf("-0x1.8127440000000p-2"), hexf("0x1.ce2e100000000p-4"),
		hexf("-0x1.b80f1c0000000p-6"), hexf("0x1.54cd4a0000000p-8"), hexf("-0x1.aa6f020000000p-11"),
		hexf("0x1.5d74700000000p-14"))
	defFs("erfcG", "erfc(t)·t·e^(t²) in v = erfcA/t + erfcB (v in [−1, 1] for t in [erfSplit, 10.5])",
		hexf("0x1.fc051e0000000p-2"), hexf("-0x1.586eca0000000p-4"), hexf("-0x1.46e3580000000p-9"),
		hexf("0x1.49bdd40000000p-7"), hexf("-0x1.4e89640000000p-8"), hexf("0x1.7e577c0000000p-10"),
		hexf("-0x1.c7a09a0000000p-15"), hexf("-0x1.1c1b9a0000000p-12"), hexf("0x1.249dd40000000p-12"),
		hexf("-0x1.12b9740000000p-13"), hexf("-0x1.2ff87c0000000p-16"), hexf("0x1.c323ea0000000p-16"))
	defF("erfcA", hexf("0x1.0484ac0000000p+1"), "maps u = 1/t in [1/10.5, 1/erfSplit] to [−1, 1]: scale")
	defF("erfcB", hexf("-0x1.319f5e0000000p+0"), "the map's offset")
	defF("invSqrt2", 1/math.Sqrt2, "1/√2 rounded to float32")
	defF("invSqrt2lo", 1/math.Sqrt2-float64(float32(1/math.Sqrt2)), "1/√2 − invSqrt2")
	defF("invSqrt2Pi", 1/math.Sqrt(2*math.Pi), "1/√(2π)")
	defF("twoOverSqrtPi", 2/math.Sqrt(math.Pi), "2/√π")
	defF("geluHi", 14.849242404917497, "GELU's erfc argument clamp: 10.5·√2")
	defF("geluLo", -14.849242404917497, "−geluHi")

	// GELU, tanh form: x·σ(v), v = x·(k1 + k2·x²) = 2·√(2/π)·(x + 0.044715·x³).
	defF("geluK1", 2*math.Sqrt(2/math.Pi), "2·√(2/π)")
	defF("geluK2", 2*math.Sqrt(2/math.Pi)*0.044715, "2·√(2/π)·0.044715")
	defF("geluK3", 3*2*math.Sqrt(2/math.Pi)*0.044715, "3·geluK2")

	// log: x = 2^e·m with m in [√½, √2), log x = e·ln 2 + log(1+f), f = m − 1,
	// log(1+f) = f − f²/2 + f³·L(f), L of degree 7 (relative error 6.4e-9).
	defF("minNormal", math.Ldexp(1, -126), "the smallest normal float32")
	defF("two23", math.Ldexp(1, 23), "2^23: scales subnormals to normals")
	defF("neg23", -23, "the exponent correction of that scaling")
	defF("sqrt2", math.Sqrt2, "√2")
	defF("logLn2hi", 0.693359375, "ln 2, high part (9 bits: e·logLn2hi is exact)")
	defF("logLn2lo", -2.12194440e-4, "ln 2 − logLn2hi")
	defFs("logL", "(log(1+f) − f + f²/2)/f³ on [√½−1, √2−1]",
		hexf("0x1.5555540000000p-2"), hexf("-0x1.0002260000000p-2"), hexf("0x1.99a0080000000p-3"),
		hexf("-0x1.5472440000000p-3"), hexf("0x1.22da240000000p-3"), hexf("-0x1.0d85540000000p-3"),
		hexf("0x1.055b440000000p-3"), hexf("-0x1.38b4cc0000000p-4"))
}

func coefs(prefix string) []V {
	var vs []V
	for i := 0; ; i++ {
		n := fmt.Sprintf("%s%d", prefix, i)
		if _, ok := constByName[n]; !ok {
			return vs
		}
		vs = append(vs, K(n))
	}
}

// ---------------------------------------------------------------------------
// The vector instruction set.

// V is an operand: a vector register (r ≥ 0) or a constant (r < 0, k set).
type V struct {
	r int
	k string
}

// K is the constant operand called name.
func K(name string) V {
	if _, ok := constByName[name]; !ok {
		panic("unknown constant " + name)
	}
	return V{r: -1, k: name}
}

func (v V) isK() bool { return v.r < 0 }

const (
	nRegs   = 16
	maskReg = 15 // the tail's lane mask
)

// E emits one kernel body, either as assembly (goMode false) or as Go.
type E struct {
	goMode bool
	out    *bytes.Buffer
	used   [nRegs]bool
	seen   map[int]bool // registers used (the Go variables to declare)
	tail   bool         // emitting the masked tail (assembly)
	// slow collects the out-of-line blocks of Unlikely, emitted after the
	// function's RET.
	slow bytes.Buffer
}

// labels numbers the out-of-line blocks.
var labels int

// Unlikely runs body (which recomputes some live register for all lanes)
// when any lane of mask is set: in assembly as a branch to an out-of-line
// block, in Go as an if.
func (e *E) Unlikely(mask V, body func()) {
	if e.goMode {
		e.ins("if vbits(%s) != 0 {", e.goOp(mask))
		body()
		e.ins("}")
		return
	}
	labels++
	n := labels
	e.ins("VMOVMSKPS %s, BX", e.asmOp(mask))
	e.ins("TESTL BX, BX")
	e.ins("JNZ vmslow%d", n)
	fmt.Fprintf(e.out, "vmback%d:\n", n)
	main := e.out
	var b bytes.Buffer
	e.out = &b
	body()
	e.out = main
	fmt.Fprintf(&e.slow, "vmslow%d:\n", n)
	e.slow.Write(b.Bytes())
	fmt.Fprintf(&e.slow, "\tJMP vmback%d\n", n)
}

func (e *E) new() V {
	for r := 0; r < nRegs; r++ {
		if r == maskReg {
			continue
		}
		if !e.used[r] {
			e.used[r] = true
			e.seen[r] = true
			return V{r: r}
		}
	}
	panic("out of vector registers")
}

func (e *E) free(vs ...V) {
	for _, v := range vs {
		if !v.isK() {
			e.used[v.r] = false
		}
	}
}

func (e *E) asmOp(v V) string {
	if v.isK() {
		return "vmc_" + v.k + "<>(SB)"
	}
	return fmt.Sprintf("Y%d", v.r)
}

func (e *E) goOp(v V) string {
	if v.isK() {
		return goConst(v.k)
	}
	return fmt.Sprintf("y%d", v.r)
}

func goConst(name string) string { return "vk" + strings.ToUpper(name[:1]) + name[1:] }

func (e *E) ins(format string, args ...any) { fmt.Fprintf(e.out, "\t"+format+"\n", args...) }

// asm emits an instruction whose operands are V values, in Go assembler
// order (sources first, destination last).
func (e *E) asm(op string, vs ...V) {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = e.asmOp(v)
	}
	e.ins("%s %s", op, strings.Join(s, ", "))
}

func (e *E) gos(dst V, format string, vs ...V) {
	a := make([]any, len(vs))
	for i, v := range vs {
		a[i] = e.goOp(v)
	}
	e.ins("%s = %s", e.goOp(dst), fmt.Sprintf(format, a...))
}

// reg returns v in a register, loading a constant into a new one (then
// fresh is true and the caller frees it).
func (e *E) reg(v V) (r V, fresh bool) {
	if !v.isK() {
		return v, false
	}
	r = e.new()
	e.Mov(r, v)
	return r, true
}

// Mov sets d = a.
func (e *E) Mov(d, a V) {
	if d == a {
		return
	}
	if e.goMode {
		e.gos(d, "%s", a)
		return
	}
	e.asm("VMOVUPS", a, d)
}

// load returns a new register holding a.
func (e *E) load(a V) V {
	d := e.new()
	e.Mov(d, a)
	return d
}

// arith emits d = a op b for VADDPS and friends; commutative ops may swap
// a constant a into the memory slot.
func (e *E) arith(op, goFmt string, commutative bool, d, a, b V) {
	if e.goMode {
		e.gos(d, goFmt, a, b)
		return
	}
	if a.isK() && commutative && !b.isK() {
		a, b = b, a
	}
	if a.isK() {
		t := e.new()
		e.Mov(t, a)
		e.asm(op, b, t, d)
		e.free(t)
		return
	}
	e.asm(op, b, a, d)
}

func (e *E) Add(d, a, b V) { e.arith("VADDPS", "%s + %s", true, d, a, b) }
func (e *E) Sub(d, a, b V) { e.arith("VSUBPS", "%s - %s", false, d, a, b) }

// Mul's Go form converts explicitly, which keeps the compiler from fusing
// the product into a later addition (as it may on arm64).
func (e *E) Mul(d, a, b V) { e.arith("VMULPS", "float32(%s * %s)", true, d, a, b) }
func (e *E) Div(d, a, b V) { e.arith("VDIVPS", "%s / %s", false, d, a, b) }

// Max is x86 MAXPS: a > b ? a : b, so b when either is NaN (and for ±0).
func (e *E) Max(d, a, b V) { e.arith("VMAXPS", "vmax(%s, %s)", false, d, a, b) }

// Min is x86 MINPS: a < b ? a : b, so b when either is NaN.
func (e *E) Min(d, a, b V) { e.arith("VMINPS", "vmin(%s, %s)", false, d, a, b) }

func (e *E) And(d, a, b V) { e.arith("VANDPS", "vand(%s, %s)", true, d, a, b) }
func (e *E) Or(d, a, b V)  { e.arith("VORPS", "vor(%s, %s)", true, d, a, b) }
func (e *E) Xor(d, a, b V) { e.arith("VXORPS", "vxor(%s, %s)", true, d, a, b) }

// AddI and SubI add and subtract 32-bit integer lanes.
func (e *E) AddI(d, a, b V) { e.arith("VPADDD", "vaddi(%s, %s)", true, d, a, b) }
func (e *E) SubI(d, a, b V) { e.arith("VPSUBD", "vsubi(%s, %s)", false, d, a, b) }

// shift emits a lane shift by an immediate.
func (e *E) shift(op, goFn string, d, a V, n int) {
	if e.goMode {
		e.ins("%s = %s(%s, %d)", e.goOp(d), goFn, e.goOp(a), n)
		return
	}
	a, fresh := e.reg(a)
	e.ins("%s $%d, %s, %s", op, n, e.asmOp(a), e.asmOp(d))
	if fresh {
		e.free(a)
	}
}

func (e *E) ShlI(d, a V, n int) { e.shift("VPSLLD", "vshl", d, a, n) }
func (e *E) SarI(d, a V, n int) { e.shift("VPSRAD", "vsar", d, a, n) }
func (e *E) ShrI(d, a V, n int) { e.shift("VPSRLD", "vshr", d, a, n) }

// Round rounds to the nearest integer, ties to even.
func (e *E) Round(d, a V) {
	if e.goMode {
		e.gos(d, "vround(%s)", a)
		return
	}
	e.ins("VROUNDPS $0, %s, %s", e.asmOp(a), e.asmOp(d))
}

// CvtI converts to int32 lanes (round to nearest; NaN and out of range give
// 0x80000000). CvtF converts int32 lanes to float.
func (e *E) CvtI(d, a V) {
	if e.goMode {
		e.gos(d, "vcvti(%s)", a)
		return
	}
	e.asm("VCVTPS2DQ", a, d)
}

func (e *E) CvtF(d, a V) {
	if e.goMode {
		e.gos(d, "vcvtf(%s)", a)
		return
	}
	e.asm("VCVTDQ2PS", a, d)
}

func (e *E) Sqrt(d, a V) {
	if e.goMode {
		e.gos(d, "vsqrt(%s)", a)
		return
	}
	e.asm("VSQRTPS", a, d)
}

// Comparison predicates (VCMPPS immediates) and their Go forms.
type pred struct {
	imm   int
	goFmt string
}

var (
	LT    = pred{0x01, "vmask(%s < %s)"}
	LE    = pred{0x02, "vmask(%s <= %s)"}
	GT    = pred{0x0e, "vmask(%s > %s)"}
	GE    = pred{0x0d, "vmask(%s >= %s)"}
	EQ    = pred{0x00, "vmask(%s == %s)"}
	NGE   = pred{0x09, "vmask(!(%s >= %s))"}
	NLE   = pred{0x06, "vmask(!(%s <= %s))"}
	UNORD = pred{0x03, "vmask(%s != %s || %s != %s)"}
)

// Cmp sets d to all ones where a p b holds, else zero.
func (e *E) Cmp(d V, p pred, a, b V) {
	if e.goMode {
		if p == UNORD && a == b {
			e.gos(d, "vmask(%s != %s)", a, a)
		} else if p == UNORD {
			e.gos(d, p.goFmt, a, a, b, b)
		} else {
			e.gos(d, p.goFmt, a, b)
		}
		return
	}
	a, fresh := e.reg(a)
	e.ins("VCMPPS $%d, %s, %s, %s", p.imm, e.asmOp(b), e.asmOp(a), e.asmOp(d))
	if fresh {
		e.free(a)
	}
}

// Blend sets d = b where mask's sign bit is set, else a.
func (e *E) Blend(d, mask, a, b V) {
	if e.goMode {
		e.gos(d, "vblend(%s, %s, %s)", mask, a, b)
		return
	}
	a, fa := e.reg(a)
	m, fm := e.reg(mask)
	e.asm("VBLENDVPS", m, b, a, d)
	if fa {
		e.free(a)
	}
	if fm {
		e.free(m)
	}
}

// fmaFamily emits d = ±(a·b) ± c with one rounding. kind is "MADD" (a·b + c),
// "NMADD" (c − a·b) or "MSUB" (a·b − c).
func (e *E) fmaFamily(kind string, d, a, b, c V) {
	if e.goMode {
		switch kind {
		case "MADD":
			e.gos(d, "fma32(%s, %s, %s)", a, b, c)
		case "NMADD":
			e.gos(d, "fma32(-%s, %s, %s)", a, b, c)
		case "MSUB":
			e.gos(d, "fma32(%s, %s, -%s)", a, b, c)
		}
		return
	}
	var tmp []V
	defer func() { e.free(tmp...) }()
	if a.isK() {
		a, b = b, a
	}
	if a.isK() { // both multiplicands constant
		r := e.new()
		tmp = append(tmp, r)
		e.Mov(r, a)
		a = r
	}
	op := func(form string) string { return "VF" + kind + form + "PS" }
	switch {
	case c.isK() || d == a || d == b:
		// 213: x = x·y + z with z (c) in the memory slot.
		if d == b && d != a {
			a, b = b, a
		}
		if d != a {
			if d == c {
				// d holds c and is neither multiplicand: go through a temporary.
				r := e.new()
				tmp = append(tmp, r)
				e.Mov(r, c)
				c = r
			}
			e.Mov(d, a)
		}
		if b.isK() {
			r := e.new()
			tmp = append(tmp, r)
			e.Mov(r, b)
			b = r
		}
		e.asm(op("213"), c, b, d)
	default:
		// 231: x = y·z + x with z (b) in the memory slot; d accumulates c.
		if d != c {
			e.Mov(d, c)
		}
		e.asm(op("231"), b, a, d)
	}
}

// FMA sets d = a·b + c, FNMA d = c − a·b, FMS d = a·b − c (one rounding).
func (e *E) FMA(d, a, b, c V)  { e.fmaFamily("MADD", d, a, b, c) }
func (e *E) FNMA(d, a, b, c V) { e.fmaFamily("NMADD", d, a, b, c) }
func (e *E) FMS(d, a, b, c V)  { e.fmaFamily("MSUB", d, a, b, c) }

// Masked clears v's lanes past the end of the data in the tail, so that
// they do not count in a reduction.
func (e *E) Masked(v V) {
	if !e.goMode && e.tail {
		e.ins("VANDPS Y%d, %s, %s", maskReg, e.asmOp(v), e.asmOp(v))
	}
}

// comment emits a comment line.
func (e *E) comment(s string) { e.ins("// %s", s) }

// ---------------------------------------------------------------------------
// Math primitives over the instruction set. Each returns a new register and
// leaves its arguments alone.

// horner evaluates c[0] + x·(c[1] + x·(…)) with FMAs.
func (e *E) horner(x V, c []V) V {
	p := e.load(c[len(c)-1])
	for i := len(c) - 2; i >= 0; i-- {
		e.FMA(p, p, x, c[i])
	}
	return p
}

// expSplit returns, for x with |x| < 2^21, t = x·log2e + expMagic rounded
// to an integer (so that t's bits are expMagic's plus n), n = round(x·log2 e)
// and r = x − n·ln 2.
func (e *E) expSplit(x V) (t, n, r V) {
	t = e.new()
	e.FMA(t, x, K("log2e"), K("expMagic"))
	n = e.new()
	e.Sub(n, t, K("expMagic"))
	r = e.new()
	e.FNMA(r, n, K("expLn2hi"), x)
	e.FNMA(r, n, K("expLn2lo"), r)
	return t, n, r
}

// clamp returns x clamped to [lo, hi], NaN kept.
func (e *E) clamp(x, lo, hi V) V {
	c := e.load(lo)
	e.Max(c, c, x)
	u := e.load(hi)
	e.Min(c, u, c)
	e.free(u)
	return c
}

// expPoly returns q = 1 + r·P(r), so that e^r = 1 + r·q and e^r − 1 = r·q.
func (e *E) expPoly(r V) V {
	q := e.horner(r, coefs("expP"))
	e.FMA(q, q, r, K("one"))
	return q
}

// expParts returns m and s with e^x = m·s for any x: m = e^r·2^h is
// normal (and exact), s = 2^(n−h), h = n>>1, so that the one rounding of
// m·s is the correct one also for subnormal and overflowing results.
// Callers that scale the result by a normal factor apply it to m first.
func (e *E) expParts(x V) (m, s V) {
	e.comment("e^x = m·s, any x")
	xc := e.clamp(x, K("expLo"), K("expHi"))
	t, n, r := e.expSplit(xc)
	e.free(xc, n)
	p := e.expPoly(r)
	e.FMA(p, p, r, K("one")) // e^r
	// 2^n as 2^h·2^(n−h): both factors normal for n in [−216, 128].
	e.SubI(t, t, K("expMagic")) // n
	h := e.new()
	e.SarI(h, t, 1)
	e.SubI(t, t, h)
	e.AddI(h, h, K("bias"))
	e.ShlI(h, h, 23)
	e.AddI(t, t, K("bias"))
	e.ShlI(t, t, 23)
	e.Mul(p, p, h)
	e.free(r, h)
	return p, t
}

// exp returns e^x: correctly +Inf, 0 and subnormal at the ends, NaN for NaN.
// The common case |x| ≤ expFast adds n to e^r's exponent; any lane beyond
// sends all eight through expParts (the same result where both apply).
func (e *E) exp(x V) V {
	e.comment("e^x")
	t, n, r := e.expSplit(x)
	p := e.expPoly(r)
	e.FMA(p, p, r, K("one")) // e^r
	e.ShlI(t, t, 23)         // n·2^23
	e.AddI(p, p, t)
	e.free(t, n, r)
	m := e.new()
	e.And(m, x, K("abs"))
	e.Cmp(m, NLE, m, K("expFast"))
	e.Unlikely(m, func() {
		q, s := e.expParts(x)
		e.Mul(p, q, s)
		e.free(q, s)
	})
	e.free(m)
	return p
}

// expm1Neg returns e^x − 1 for x ≤ 0 (clamped below at eluLo, where it is −1).
func (e *E) expm1Neg(x V) V {
	e.comment("e^x − 1 for x ≤ 0")
	xc := e.clamp(x, K("eluLo"), K("zero"))
	s, n, r := e.expSplit(xc)
	e.free(xc)
	p := e.expPoly(r)
	e.Mul(p, p, r)         // e^r − 1
	e.ShlI(s, s, 23)       // n·2^23
	e.AddI(s, s, K("one")) // 2^n, n in [−126, 0]
	sm := n
	e.Sub(sm, s, K("one"))
	e.FMA(p, s, p, sm) // 2^n·(e^r − 1) + (2^n − 1)
	e.free(r, s, sm)
	return p
}

// log returns the natural logarithm: −Inf at ±0, NaN below 0 and for NaN,
// +Inf at +Inf; subnormals are scaled first.
func (e *E) log(x V) V {
	e.comment("log x")
	sm := e.new()
	e.Cmp(sm, LT, x, K("minNormal"))
	xs := e.new()
	e.Mul(xs, x, K("two23"))
	e.Blend(xs, sm, x, xs)
	ef := e.new()
	e.ShrI(ef, xs, 23)
	e.SubI(ef, ef, K("bias"))
	e.CvtF(ef, ef)
	e.And(sm, sm, K("neg23"))
	e.Add(ef, ef, sm) // the exponent e
	m := xs
	e.And(m, m, K("mant"))
	e.Or(m, m, K("one")) // m in [1, 2)
	e.Cmp(sm, GE, m, K("sqrt2"))
	h := e.new()
	e.Mul(h, m, K("half"))
	e.Blend(m, sm, m, h) // m in [√½, √2)
	e.And(sm, sm, K("one"))
	e.Add(ef, ef, sm)
	f := m
	e.Sub(f, f, K("one"))
	z := h
	e.Mul(z, f, f)
	p := e.horner(f, coefs("logL"))
	e.Mul(p, p, f)
	e.Mul(p, p, z) // f³·L(f)
	e.FMA(p, ef, K("logLn2lo"), p)
	e.FNMA(p, z, K("half"), p)
	e.Add(p, p, f)
	e.FMA(p, ef, K("logLn2hi"), p)
	// Specials.
	e.Cmp(sm, EQ, x, K("pinf"))
	e.Blend(p, sm, p, x)
	e.Cmp(sm, EQ, x, K("zero"))
	e.Blend(p, sm, p, K("ninf"))
	e.Cmp(sm, NGE, x, K("zero"))
	e.Blend(p, sm, p, K("qnan"))
	e.free(sm, xs, ef, h)
	return p
}

// sigmoidParts returns ex = e^−|x|, d = 1 + ex and num (ex where x has its
// sign bit set, else 1), so that σ(x) = num/d and σ(x)(1−σ(x)) = ex/d².
func (e *E) sigmoidParts(x V) (num, d, ex V) {
	t := e.new()
	e.Or(t, x, K("sign"))
	ex = e.exp(t)
	e.free(t)
	d = e.new()
	e.Add(d, ex, K("one"))
	num = e.load(K("one"))
	e.Blend(num, x, num, ex)
	return num, d, ex
}

// tanh returns tanh x.
func (e *E) tanh(x V) V {
	e.comment("tanh x")
	a := e.new()
	e.And(a, x, K("abs"))
	z := e.new()
	e.Mul(z, x, x)
	s := e.horner(z, coefs("tanhT"))
	e.Mul(s, s, z)
	e.FMA(s, s, x, x) // x + x³·T(x²)
	t := z
	e.Add(t, a, a)
	ex := e.exp(t)
	e.Add(ex, ex, K("one"))
	l := e.load(K("two"))
	e.Div(l, l, ex)
	one := ex
	e.Mov(one, K("one"))
	e.Sub(l, one, l) // 1 − 2/(e^2|x| + 1)
	e.Cmp(a, LT, a, K("tanhSplit"))
	e.Blend(s, a, l, s)
	sg := one
	e.And(sg, x, K("sign"))
	e.Or(s, s, sg) // tanh is odd (and keeps −0)
	e.free(a, t, ex, l)
	return s
}

// erfSmall returns x + x·Q(x²), erf x for |x| < erfSplit.
func (e *E) erfSmall(x V) V {
	z := e.new()
	e.Mul(z, x, x)
	q := e.horner(z, coefs("erfQ"))
	e.FMA(q, q, x, x)
	e.free(z)
	return q
}

// onePlusErfSmall returns 1 + erf x for |x| < erfSplit as (1 + x) + x·Q(x²):
// 1 + x is exact for x in [−1, −½], so there is no cancellation where
// erf x nears −1.
func (e *E) onePlusErfSmall(x V) V {
	z := e.new()
	e.Mul(z, x, x)
	q := e.horner(z, coefs("erfQ"))
	e.Add(z, x, K("one"))
	e.FMA(q, q, x, z)
	e.free(z)
	return q
}

// erfcParts returns ex and f with erfc t ≈ ex·f for t ≥ erfSplit: ex =
// e^−hi with hi + lo = t² + 2·t·tlo (tlo, the low part of t, may be a zero
// value), and f = G(u)·u·(1 + (1 − t·u) − lo), u = 1/t: the rounding of u and
// the low part of t² corrected to first order.
func (e *E) erfcParts(t, tlo V, haveLo bool) (ex, f V) {
	e.comment("erfc t = e^(−t²)·G(1/t)/t")
	u := e.load(K("one"))
	e.Div(u, u, t)
	v := e.new()
	e.FMA(v, u, K("erfcA"), K("erfcB"))
	g := e.horner(v, coefs("erfcG"))
	e.free(v)
	hi := e.new()
	e.Mul(hi, t, t)
	lo := e.new()
	e.FMS(lo, t, t, hi)
	if haveLo {
		tt := e.new()
		e.Add(tt, t, t)
		e.FMA(lo, tt, tlo, lo)
		e.free(tt)
	}
	r := e.load(K("one"))
	e.FNMA(r, t, u, r)
	e.Sub(r, r, lo)
	e.Mul(g, g, u)
	e.FMA(g, g, r, g)
	e.free(u, lo, r)
	e.Xor(hi, hi, K("sign"))
	ex = e.exp(hi)
	e.free(hi)
	return ex, g
}

// erf returns erf x.
func (e *E) erf(x V) V {
	e.comment("erf x")
	a := e.new()
	e.And(a, x, K("abs"))
	s := e.erfSmall(x)
	t := e.load(K("erfHi"))
	e.Min(t, t, a) // NaN stays
	ex, f := e.erfcParts(t, V{}, false)
	e.Mul(ex, ex, f)
	l := t
	e.Mov(l, K("one"))
	e.Sub(l, l, ex) // 1 − erfc |x|
	e.And(f, x, K("sign"))
	e.Or(l, l, f)
	e.Cmp(a, LT, a, K("erfSplit"))
	e.Blend(s, a, l, s)
	e.free(a, t, ex, f)
	return s
}

// geluErfParts computes, for GELU's t = x/√2 (x clamped to ±geluHi, where
// the result is x or 0): xc, the clamped x; t and tlo with t + tlo = xc/√2;
// a = |t|; ex and f with erfc|t| ≈ ex·f, ex = e^(−t²).
func (e *E) geluErfParts(x V) (xc, t, tlo, a, ex, f V) {
	xc = e.load(K("geluLo"))
	e.Max(xc, xc, x)
	u := e.load(K("geluHi"))
	e.Min(xc, u, xc)
	t = u
	e.Mul(t, xc, K("invSqrt2"))
	tlo = e.new()
	e.FMS(tlo, xc, K("invSqrt2"), t)
	e.FMA(tlo, xc, K("invSqrt2lo"), tlo) // t + tlo = xc/√2
	a = e.new()
	e.And(a, t, K("abs"))
	alo := e.new()
	e.And(alo, t, K("sign"))
	e.Xor(alo, tlo, alo) // the low part of |t|
	ex, f = e.erfcParts(a, alo, true)
	e.free(alo)
	return
}

// geluOnePlusErf returns 1 + erf t for |t| < erfSplit, corrected by
// erf'(t)·tlo = 2/√π·e^(−t²)·tlo for the low part of t.
func (e *E) geluOnePlusErf(t, tlo, ex V) V {
	s := e.onePlusErfSmall(t)
	c := e.new()
	e.Mul(c, ex, K("twoOverSqrtPi"))
	e.FMA(s, c, tlo, s)
	e.free(c)
	return s
}

// ---------------------------------------------------------------------------
// Kernels.

type kernel struct {
	name   string   // the Go stem: nameAVX2, nameGo, nameVec
	doc    string   // what dst receives
	ins    []string // input slices (after dst)
	params []string // float32 parameters
	unroll int
	body   func(e *E, in, par []V) V
}

type reduction struct {
	name   string
	doc    string
	store  bool     // the first slice is written (dst), the body's first result
	ins    []string // input slices
	params []string
	outs   []string                           // float64 results
	body   func(e *E, in, par []V, acc []V) V // returns the value to store, if any
}

func unary(name, doc string, unroll int, f func(e *E, x V) V) kernel {
	return kernel{name: name, doc: doc, ins: []string{"x"}, unroll: unroll,
		body: func(e *E, in, par []V) V { return f(e, in[0]) }}
}

func binary(name, doc string, a, b string, unroll int, f func(e *E, a, b V) V) kernel {
	return kernel{name: name, doc: doc, ins: []string{a, b}, unroll: unroll,
		body: func(e *E, in, par []V) V { return f(e, in[0], in[1]) }}
}

func op2(op func(e *E, d, a, b V)) func(e *E, a, b V) V {
	return func(e *E, a, b V) V {
		d := e.new()
		op(e, d, a, b)
		return d
	}
}

var kernels = []kernel{
	// Arithmetic.
	binary("add", "a + b", "a", "b", 4, op2((*E).Add)),
	binary("sub", "a − b", "a", "b", 4, op2((*E).Sub)),
	binary("mul", "a·b", "a", "b", 4, op2((*E).Mul)),
	binary("div", "a/b", "a", "b", 4, op2((*E).Div)),
	{name: "addS", doc: "x + s", ins: []string{"x"}, params: []string{"s"}, unroll: 4,
		body: func(e *E, in, p []V) V { d := e.new(); e.Add(d, in[0], p[0]); return d }},
	{name: "mulS", doc: "x·s", ins: []string{"x"}, params: []string{"s"}, unroll: 4,
		body: func(e *E, in, p []V) V { d := e.new(); e.Mul(d, in[0], p[0]); return d }},
	{name: "divS", doc: "x/s", ins: []string{"x"}, params: []string{"s"}, unroll: 4,
		body: func(e *E, in, p []V) V { d := e.new(); e.Div(d, in[0], p[0]); return d }},
	{name: "rsubS", doc: "s − x", ins: []string{"x"}, params: []string{"s"}, unroll: 4,
		body: func(e *E, in, p []V) V { d := e.new(); e.Sub(d, p[0], in[0]); return d }},
	{name: "rdivS", doc: "s/x", ins: []string{"x"}, params: []string{"s"}, unroll: 4,
		body: func(e *E, in, p []V) V { d := e.new(); e.Div(d, p[0], in[0]); return d }},
	{name: "fmaAcc", doc: "acc + a·b", ins: []string{"acc", "a", "b"}, unroll: 2,
		body: func(e *E, in, p []V) V { d := e.new(); e.FMA(d, in[1], in[2], in[0]); return d }},
	// max and min of a running value acc and a new one v, as the reductions
	// define them: NaN in either wins; ties keep acc.
	binary("maxNaN", "max(acc, v), NaN winning", "acc", "v", 2, func(e *E, acc, v V) V {
		d := e.new()
		e.Max(d, v, acc)
		u := e.new()
		e.Cmp(u, UNORD, v, v)
		e.Blend(d, u, d, v)
		return d
	}),
	binary("minNaN", "min(acc, v), NaN winning", "acc", "v", 2, func(e *E, acc, v V) V {
		d := e.new()
		e.Min(d, v, acc)
		u := e.new()
		e.Cmp(u, UNORD, v, v)
		e.Blend(d, u, d, v)
		return d
	}),

	// Simple unary ops.
	unary("neg", "−x", 4, func(e *E, x V) V { d := e.new(); e.Xor(d, x, K("sign")); return d }),
	unary("abs", "|x|", 4, func(e *E, x V) V { d := e.new(); e.And(d, x, K("abs")); return d }),
	unary("square", "x²", 4, func(e *E, x V) V { d := e.new(); e.Mul(d, x, x); return d }),
	unary("sqrt", "√x", 2, func(e *E, x V) V { d := e.new(); e.Sqrt(d, x); return d }),
	unary("relu", "max(x, 0), NaN kept, −0 to +0", 4, func(e *E, x V) V {
		d := e.load(K("zero"))
		e.Max(d, d, x)
		e.And(d, d, K("abs"))
		return d
	}),
	{name: "leakyRelu", doc: "x where x > 0, else a·x", ins: []string{"x"}, params: []string{"a"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			x := in[0]
			d := e.new()
			e.Mul(d, x, p[0])
			m := e.new()
			e.Cmp(m, GT, x, K("zero"))
			e.Blend(d, m, d, x)
			return d
		}},
	{name: "clamp", doc: "min(max(x, lo), hi) (lo ≤ hi), NaN kept", ins: []string{"x"}, params: []string{"lo", "hi"}, unroll: 4,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Max(d, p[0], in[0])
			e.Min(d, p[1], d)
			return d
		}},

	// Transcendental functions.
	unary("exp", "e^x", 1, (*E).exp),
	unary("log", "log x", 1, (*E).log),
	unary("tanh", "tanh x", 1, (*E).tanh),
	unary("erf", "erf x", 1, (*E).erf),
	unary("sigmoid", "σ(x) = 1/(1 + e^−x)", 1, func(e *E, x V) V {
		num, d, ex := e.sigmoidParts(x)
		e.Div(num, num, d)
		e.free(d, ex)
		return num
	}),
	unary("silu", "x·σ(x)", 1, func(e *E, x V) V {
		// x·σ(x) = x/(1 + e^−x), or x·e^x/(1 + e^x) below 0 where e^x = m·s
		// and s is applied last (so that a subnormal result rounds once).
		t := e.new()
		e.Or(t, x, K("sign"))
		m, s := e.expParts(t)
		d := e.new()
		e.Mul(d, m, s)
		e.Add(d, d, K("one"))
		one := e.load(K("one"))
		e.Blend(m, x, one, m)
		e.Blend(s, x, one, s)
		e.Cmp(one, GE, x, K("expLo"))
		e.And(s, s, one) // 0 below expLo (where m is clamped): −0, or NaN for −Inf as in PyTorch
		e.Mul(m, m, x)
		e.Div(m, m, d)
		e.Mul(m, m, s)
		e.free(t, s, d, one)
		return m
	}),
	unary("geluErf", "x·Φ(x) = x/2·(1 + erf(x/√2))", 1, func(e *E, x V) V {
		xc, t, tlo, a, ex, f := e.geluErfParts(x)
		hx := e.new()
		e.Mul(hx, x, K("half"))
		s := e.geluOnePlusErf(t, tlo, ex)
		e.free(tlo)
		e.Mul(s, s, hx) // |t| < erfSplit: x/2·(1 + erf t)
		neg := e.new()
		e.Mul(neg, hx, f)
		e.Mul(neg, neg, ex) // t < 0: x/2·erfc|t|, the subnormal-prone factor last
		e.Mul(f, f, ex)
		e.Mov(ex, K("two"))
		e.Sub(f, ex, f)
		e.Mul(f, f, hx) // t > 0: x/2·(2 − erfc t)
		e.Blend(f, t, f, neg)
		e.Cmp(a, LT, a, K("erfSplit"))
		e.Blend(s, a, f, s)
		e.free(xc, t, a, ex, f, hx, neg)
		return s
	}),
	unary("geluTanh", "x·σ(2·√(2/π)·(x + 0.044715·x³))", 1, func(e *E, x V) V {
		z := e.new()
		e.Mul(z, x, x)
		e.FMA(z, z, K("geluK2"), K("geluK1"))
		e.Mul(z, z, x)
		num, d, ex := e.sigmoidParts(z)
		e.Mul(num, num, x)
		e.Div(num, num, d)
		e.free(z, d, ex)
		return num
	}),
	{name: "softplus", doc: "log(1 + e^(β·x))/β, x where β·x > threshold",
		ins: []string{"x"}, params: []string{"beta", "threshold"}, unroll: 1,
		body: func(e *E, in, par []V) V {
			x, beta, thr := in[0], par[0], par[1]
			e.comment("softplus: (max(p, 0) + log1p(e^−|p|))/β, p = β·x as p + plo")
			p := e.new()
			e.Mul(p, x, beta)
			plo := e.new()
			e.FMS(plo, x, beta, p)
			t := e.new()
			e.Or(t, p, K("sign"))
			ninf := e.new()
			e.Cmp(ninf, GT, t, K("ninf"))
			e.And(plo, plo, ninf) // no low part (not NaN) where p is ±Inf
			e.free(ninf)
			ex := e.exp(t)
			e.And(t, p, K("sign"))
			e.Xor(t, plo, t)
			e.FNMA(ex, ex, t, ex) // e^(−|p| − |p|lo)
			w := t
			e.Add(w, ex, K("one"))
			l := e.log(w)
			c := e.new()
			e.Sub(c, w, K("one"))
			e.Sub(c, c, ex)
			e.Div(c, c, w)
			e.Sub(l, l, c) // log1p(ex) = log w − ((w − 1) − ex)/w
			e.Cmp(c, GT, p, K("zero"))
			e.And(c, c, plo)
			e.Add(l, l, c)
			e.Max(c, p, K("zero"))
			e.Add(l, l, c)
			e.Div(l, l, beta)
			e.Cmp(c, GT, p, thr)
			e.Blend(l, c, l, x)
			e.free(p, plo, ex, w, c)
			return l
		}},
	{name: "elu", doc: "x where x ≥ 0, else α·(e^x − 1)", ins: []string{"x"}, params: []string{"alpha"}, unroll: 1,
		body: func(e *E, in, par []V) V {
			x := in[0]
			xm := e.load(K("zero"))
			e.Min(xm, xm, x)
			em := e.expm1Neg(xm)
			e.Mul(em, em, par[0])
			e.Cmp(xm, GE, x, K("zero"))
			e.Blend(em, xm, em, x)
			e.free(xm)
			return em
		}},

	// Backward of the unary ops: dx = g·f'(x), from the input x or the output y.
	binary("tanhGrad", "g·(1 − y²)", "gy", "y", 2, func(e *E, g, y V) V {
		d := e.load(K("one"))
		e.FNMA(d, y, y, d)
		e.Mul(d, d, g)
		return d
	}),
	binary("sigmoidGrad", "g·y·(1 − y)", "gy", "y", 2, func(e *E, g, y V) V {
		d := e.new()
		e.Mul(d, g, y)
		t := e.load(K("one"))
		e.Sub(t, t, y)
		e.Mul(d, d, t)
		return d
	}),
	binary("reluGrad", "g where x > 0, else 0", "gy", "x", 4, func(e *E, g, x V) V {
		d := e.new()
		e.Cmp(d, GT, x, K("zero"))
		e.And(d, d, g)
		return d
	}),
	binary("squareGrad", "2·g·x", "gy", "x", 4, func(e *E, g, x V) V {
		d := e.new()
		e.Add(d, g, g)
		e.Mul(d, d, x)
		return d
	}),
	binary("sqrtGrad", "g·(0.5/y)", "gy", "y", 2, func(e *E, g, y V) V {
		d := e.load(K("half"))
		e.Div(d, d, y)
		e.Mul(d, d, g)
		return d
	}),
	{name: "leakyReluGrad", doc: "g where x > 0, else a·g", ins: []string{"gy", "x"}, params: []string{"a"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			m := e.new()
			e.Cmp(m, GT, in[1], K("zero"))
			d := e.new()
			e.Blend(d, m, p[0], K("one"))
			e.Mul(d, d, in[0])
			return d
		}},
	{name: "clampGrad", doc: "g where lo ≤ x ≤ hi, else 0", ins: []string{"gy", "x"}, params: []string{"lo", "hi"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			m := e.new()
			e.Cmp(m, GE, in[1], p[0])
			n := e.new()
			e.Cmp(n, LE, in[1], p[1])
			e.And(m, m, n)
			e.And(m, m, in[0])
			return m
		}},
	binary("siluGrad", "g·σ(x)·(1 + x·(1 − σ(x)))", "gy", "x", 1, func(e *E, g, x V) V {
		num, d, ex := e.sigmoidParts(x)
		e.Div(num, num, d) // σ
		e.Mul(d, d, d)
		e.Div(ex, ex, d) // σ(1 − σ) = e^−|x|/(1 + e^−|x|)²
		e.FMA(num, x, ex, num)
		e.Mul(num, num, g)
		e.free(d, ex)
		return num
	}),
	binary("geluErfGrad", "g·(Φ(x) + x·φ(x))", "gy", "x", 1, func(e *E, g, x V) V {
		xc, t, tlo, a, ex, f := e.geluErfParts(x)
		s := e.geluOnePlusErf(t, tlo, ex)
		e.free(tlo)
		e.Mul(s, s, K("half")) // Φ for |t| < erfSplit
		e.Mul(f, f, ex)
		e.Mul(f, f, K("half")) // erfc|t|/2: Φ for t < 0
		neg := e.new()
		e.Mov(neg, f)
		e.Mov(a, K("one"))
		e.Sub(f, a, f) // Φ for t > 0
		e.Blend(f, t, f, neg)
		e.And(a, t, K("abs"))
		e.Cmp(a, LT, a, K("erfSplit"))
		e.Blend(s, a, f, s)
		e.Mul(xc, xc, K("invSqrt2Pi"))
		e.FMA(s, xc, ex, s) // + x·φ(x), φ(x) = e^(−t²)/√(2π)
		e.Mul(s, s, g)
		e.free(xc, t, a, ex, f, neg)
		return s
	}),
	binary("geluTanhGrad", "g·(σ(v) + x·σ(v)(1 − σ(v))·v'), v = x·(k1 + k2·x²)", "gy", "x", 1, func(e *E, g, x V) V {
		z := e.new()
		e.Mul(z, x, x)
		v := e.new()
		e.FMA(v, z, K("geluK2"), K("geluK1"))
		e.Mul(v, v, x)
		num, d, ex := e.sigmoidParts(v)
		e.Div(num, num, d) // σ(v)
		e.Mul(d, d, d)
		e.Div(ex, ex, d)                      // σ(v)(1 − σ(v))
		e.FMA(z, z, K("geluK3"), K("geluK1")) // v'
		e.Mul(ex, ex, x)
		e.FMA(num, ex, z, num)
		e.Mul(num, num, g)
		e.free(z, v, d, ex)
		return num
	}),
	{name: "softplusGrad", doc: "g·σ(β·x), g where β·x > threshold", ins: []string{"gy", "x"}, params: []string{"beta", "threshold"}, unroll: 1,
		body: func(e *E, in, par []V) V {
			p := e.new()
			e.Mul(p, in[1], par[0])
			num, d, ex := e.sigmoidParts(p)
			e.Div(num, num, d)
			e.Cmp(d, GT, p, par[1])
			e.Blend(num, d, num, K("one"))
			e.Mul(num, num, in[0])
			e.free(p, d, ex)
			return num
		}},
	{name: "eluGrad", doc: "g where x > 0, else g·α·e^x", ins: []string{"gy", "x"}, params: []string{"alpha"}, unroll: 1,
		body: func(e *E, in, par []V) V {
			ex := e.exp(in[1])
			e.Mul(ex, ex, par[0])
			m := e.new()
			e.Cmp(m, GT, in[1], K("zero"))
			e.Blend(ex, m, ex, K("one"))
			e.Mul(ex, ex, in[0])
			e.free(m)
			return ex
		}},

	// Softmax.
	binary("expSub", "e^(x − m)", "x", "m", 1, func(e *E, x, m V) V {
		t := e.new()
		e.Sub(t, x, m)
		d := e.exp(t)
		e.free(t)
		return d
	}),
	{name: "softmaxGrad", doc: "y·(g − dot)", ins: []string{"gy", "y"}, params: []string{"dot"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.Mul(d, d, in[1])
			return d
		}},
	{name: "softmaxGradV", doc: "y·(g − dot)", ins: []string{"gy", "y", "dot"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], in[2])
			e.Mul(d, d, in[1])
			return d
		}},
	{name: "logSoftmaxGrad", doc: "g − e^y·dot", ins: []string{"gy", "y"}, params: []string{"dot"}, unroll: 1,
		body: func(e *E, in, p []V) V {
			d := e.exp(in[1])
			e.FNMA(d, d, p[0], in[0])
			return d
		}},
	{name: "logSoftmaxGradV", doc: "g − e^y·dot", ins: []string{"gy", "y", "dot"}, unroll: 1,
		body: func(e *E, in, p []V) V {
			d := e.exp(in[1])
			e.FNMA(d, d, in[2], in[0])
			return d
		}},

	// Layer normalisation rows.
	{name: "lnAffine", doc: "(x − m)·rs·w + b", ins: []string{"x", "w", "b"}, params: []string{"m", "rs"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.Mul(d, d, p[1])
			e.FMA(d, d, in[1], in[2])
			return d
		}},
	{name: "lnScale", doc: "(x − m)·rs·w", ins: []string{"x", "w"}, params: []string{"m", "rs"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.Mul(d, d, p[1])
			e.Mul(d, d, in[1])
			return d
		}},
	{name: "lnShift", doc: "(x − m)·rs + b", ins: []string{"x", "b"}, params: []string{"m", "rs"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.FMA(d, d, p[1], in[1])
			return d
		}},
	{name: "lnNorm", doc: "(x − m)·rs", ins: []string{"x"}, params: []string{"m", "rs"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.Mul(d, d, p[1])
			return d
		}},
	{name: "lnGradW", doc: "rs·(g·w − a) − (x − m)·c", ins: []string{"gy", "w", "x"}, params: []string{"rs", "a", "m", "c"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.FMS(d, in[0], in[1], p[1])
			e.Mul(d, d, p[0])
			t := e.new()
			e.Sub(t, in[2], p[2])
			e.FNMA(d, t, p[3], d)
			return d
		}},
	{name: "lnGrad", doc: "rs·(g − a) − (x − m)·c", ins: []string{"gy", "x"}, params: []string{"rs", "a", "m", "c"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[0], p[1])
			e.Mul(d, d, p[0])
			t := e.new()
			e.Sub(t, in[1], p[2])
			e.FNMA(d, t, p[3], d)
			return d
		}},
	{name: "lnAccW", doc: "acc + g·((x − m)·rs)", ins: []string{"acc", "gy", "x"}, params: []string{"m", "rs"}, unroll: 2,
		body: func(e *E, in, p []V) V {
			d := e.new()
			e.Sub(d, in[2], p[0])
			e.Mul(d, d, p[1])
			e.FMA(d, in[1], d, in[0])
			return d
		}},
}

var reductions = []reduction{
	{name: "sum", doc: "Σ x", ins: []string{"x"}, outs: []string{"s"},
		body: func(e *E, in, p, acc []V) V { e.Add(acc[0], acc[0], in[0]); return V{} }},
	{name: "dot", doc: "Σ x·y", ins: []string{"x", "y"}, outs: []string{"s"},
		body: func(e *E, in, p, acc []V) V { e.FMA(acc[0], in[0], in[1], acc[0]); return V{} }},
	{name: "sumDev", doc: "Σ (x − m) and Σ (x − m)²", ins: []string{"x"}, params: []string{"m"}, outs: []string{"s1", "s2"},
		body: func(e *E, in, p, acc []V) V {
			d := e.new()
			e.Sub(d, in[0], p[0])
			e.Masked(d)
			e.Add(acc[0], acc[0], d)
			e.FMA(acc[1], d, d, acc[1])
			return V{}
		}},
	{name: "gradSums", doc: "Σ g and Σ g·(x − m)", ins: []string{"gy", "x"}, params: []string{"m"}, outs: []string{"s1", "s2"},
		body: func(e *E, in, p, acc []V) V {
			d := e.new()
			e.Sub(d, in[1], p[0])
			e.Add(acc[0], acc[0], in[0])
			e.FMA(acc[1], in[0], d, acc[1])
			return V{}
		}},
	{name: "gradSumsW", doc: "Σ g·w and Σ g·w·(x − m)", ins: []string{"gy", "w", "x"}, params: []string{"m"}, outs: []string{"s1", "s2"},
		body: func(e *E, in, p, acc []V) V {
			gw := e.new()
			e.Mul(gw, in[0], in[1])
			d := e.new()
			e.Sub(d, in[2], p[0])
			e.Add(acc[0], acc[0], gw)
			e.FMA(acc[1], gw, d, acc[1])
			return V{}
		}},
	{name: "expShiftSum", doc: "dst = e^(x − m), and Σ dst", store: true, ins: []string{"x"}, params: []string{"m"}, outs: []string{"s"},
		body: func(e *E, in, p, acc []V) V {
			t := e.new()
			e.Sub(t, in[0], p[0])
			d := e.exp(t)
			e.free(t)
			v := e.new()
			e.Mov(v, d)
			e.Masked(v)
			e.Add(acc[0], acc[0], v)
			e.free(v)
			return d
		}},
}

// ---------------------------------------------------------------------------
// Emission.

var (
	asmOut, amd64Out, otherOut, goOut bytes.Buffer
	usedConsts                        = map[string]bool{}
)

func pf(b *bytes.Buffer, format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

var inRegs = []string{"SI", "DX", "R8", "R9"}

func newE(goMode bool, out *bytes.Buffer) *E {
	return &E{goMode: goMode, out: out, seen: map[int]bool{}}
}

// noteConsts records the constants an emitted text uses.
func noteConsts(text string) {
	for _, c := range consts {
		if strings.Contains(text, "vmc_"+c.name+"<>") || strings.Contains(text, goConst(c.name)) {
			usedConsts[c.name] = true
		}
	}
}

func goSig(names []string, typ string) string {
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, ", ") + " " + typ
}

func joinSig(parts ...string) string {
	var s []string
	for _, p := range parts {
		if p != "" {
			s = append(s, p)
		}
	}
	return strings.Join(s, ", ")
}

func emitKernel(k kernel) {
	ptrs := append([]string{"dst"}, k.ins...)
	// Argument frame: pointers, n, then float32 parameters.
	nOff := 8 * len(ptrs)
	pOff := nOff + 8
	frame := pOff + 4*len(k.params)
	asmName := k.name + "AVX2"

	// Assembly.
	pf(&asmOut, "// func %s(%s, n int%s)", asmName, goSig(ptrs, "*float32"), prefixComma(goSig(k.params, "float32")))
	pf(&asmOut, "// dst[i] = %s for i < n.", k.doc)
	pf(&asmOut, "TEXT ·%s(SB), NOSPLIT, $0-%d", asmName, frame)
	pf(&asmOut, "\tMOVQ dst+0(FP), DI")
	for i, in := range k.ins {
		pf(&asmOut, "\tMOVQ %s+%d(FP), %s", in, 8*(i+1), inRegs[i])
	}
	pf(&asmOut, "\tMOVQ n+%d(FP), CX", nOff)
	pf(&asmOut, "\tXORQ AX, AX // byte offset")
	e := newE(false, &asmOut)
	var par []V
	for i, p := range k.params {
		r := e.new()
		par = append(par, r)
		pf(&asmOut, "\tVBROADCASTSS %s+%d(FP), Y%d", p, pOff+4*i, r.r)
	}
	base := e.used
	body := func(off int, tail bool) {
		e.used = base
		e.tail = tail
		var in []V
		for i := range k.ins {
			r := e.new()
			in = append(in, r)
			if tail {
				e.ins("VMASKMOVPS %d(%s)(AX*1), Y%d, Y%d", off, inRegs[i], maskReg, r.r)
			} else {
				e.ins("VMOVUPS %d(%s)(AX*1), Y%d", off, inRegs[i], r.r)
			}
		}
		res := k.body(e, in, par)
		if tail {
			e.ins("VMASKMOVPS Y%d, Y%d, %d(DI)(AX*1)", res.r, maskReg, off)
		} else {
			e.ins("VMOVUPS Y%d, %d(DI)(AX*1)", res.r, off)
		}
	}
	u := max(k.unroll, 1)
	if u > 1 {
		pf(&asmOut, "loop%d:", u)
		pf(&asmOut, "\tCMPQ CX, $%d", 8*u)
		pf(&asmOut, "\tJL   loop1")
		for j := 0; j < u; j++ {
			body(32*j, false)
		}
		pf(&asmOut, "\tADDQ $%d, AX", 32*u)
		pf(&asmOut, "\tSUBQ $%d, CX", 8*u)
		pf(&asmOut, "\tJMP  loop%d", u)
	}
	pf(&asmOut, "loop1:")
	pf(&asmOut, "\tCMPQ CX, $8")
	pf(&asmOut, "\tJL   tail")
	body(0, false)
	pf(&asmOut, "\tADDQ $32, AX")
	pf(&asmOut, "\tSUBQ $8, CX")
	pf(&asmOut, "\tJMP  loop1")
	pf(&asmOut, "tail:")
	pf(&asmOut, "\tTESTQ CX, CX")
	pf(&asmOut, "\tJE    done")
	emitTailMask()
	body(0, true)
	pf(&asmOut, "done:")
	pf(&asmOut, "\tVZEROUPPER")
	pf(&asmOut, "\tRET")
	asmOut.Write(e.slow.Bytes())
	pf(&asmOut, "")

	// Declaration and dispatch (amd64).
	pf(&amd64Out, "//go:noescape")
	pf(&amd64Out, "func %s(%s, n int%s)", asmName, goSig(ptrs, "*float32"), prefixComma(goSig(k.params, "float32")))
	pf(&amd64Out, "")
	sliceSig := joinSig(goSig(ptrs, "[]float32"), goSig(k.params, "float32"))
	args := strings.Join(append(append([]string{}, ptrs...), k.params...), ", ")
	pf(&amd64Out, "// %sVec sets dst[i] = %s for i < len(dst) (the inputs may be longer).", k.name, k.doc)
	pf(&amd64Out, "func %sVec(%s) {", k.name, sliceSig)
	for _, in := range k.ins {
		pf(&amd64Out, "\t%s = %s[:len(dst)]", in, in)
	}
	pf(&amd64Out, "\tif vmathAsm && hasVecAVX2 && len(dst) > 0 {")
	var addrs []string
	for _, p := range ptrs {
		addrs = append(addrs, "&"+p+"[0]")
	}
	pf(&amd64Out, "\t\t%s(%s, len(dst)%s)", asmName, strings.Join(addrs, ", "), prefixComma(strings.Join(k.params, ", ")))
	pf(&amd64Out, "\t\treturn")
	pf(&amd64Out, "\t}")
	pf(&amd64Out, "\t%sGo(%s)", k.name, args)
	pf(&amd64Out, "}")
	pf(&amd64Out, "")

	pf(&otherOut, "// %sVec sets dst[i] = %s for i < len(dst) (the inputs may be longer).", k.name, k.doc)
	pf(&otherOut, "func %sVec(%s) { %sGo(%s) }", k.name, sliceSig, k.name, args)
	pf(&otherOut, "")

	// Portable Go.
	var body2 bytes.Buffer
	g := newE(true, &body2)
	for i, p := range k.params {
		r := g.new()
		pf(&body2, "\ty%d = %s", r.r, p)
		_ = i
	}
	pf(&body2, "\tfor i := range dst {")
	var in []V
	for _, name := range k.ins {
		r := g.new()
		in = append(in, r)
		pf(&body2, "\t\ty%d = %s[i]", r.r, name)
	}
	var inner bytes.Buffer
	g.out = &inner
	res := k.body(g, in, parRegs(len(k.params)))
	indent(&body2, inner.String())
	pf(&body2, "\t\tdst[i] = y%d", res.r)
	pf(&body2, "\t}")
	pf(&goOut, "// %sGo sets dst[i] = %s for i < len(dst): the portable form of %s.", k.name, k.doc, asmName)
	pf(&goOut, "func %sGo(%s) {", k.name, sliceSig)
	for _, name := range k.ins {
		pf(&goOut, "\t%s = %s[:len(dst)]", name, name)
	}
	declare(&goOut, g.seen)
	goOut.Write(body2.Bytes())
	pf(&goOut, "}")
	pf(&goOut, "")
	noteConsts(asmOut.String())
	noteConsts(goOut.String())
}

// parRegs are the registers the parameters occupy (the first ones allocated).
func parRegs(n int) []V {
	var v []V
	for i := 0; i < n; i++ {
		v = append(v, V{r: i})
	}
	return v
}

func prefixComma(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func indent(b *bytes.Buffer, s string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		b.WriteString("\t" + line + "\n")
	}
}

func declare(b *bytes.Buffer, seen map[int]bool) {
	var rs []int
	for r := range seen {
		rs = append(rs, r)
	}
	sort.Ints(rs)
	var names []string
	for _, r := range rs {
		names = append(names, fmt.Sprintf("y%d", r))
	}
	pf(b, "\tvar %s float32", strings.Join(names, ", "))
	blanks := make([]string, len(names))
	for i := range blanks {
		blanks[i] = "_"
	}
	pf(b, "\t%s = %s", strings.Join(blanks, ", "), strings.Join(names, ", "))
}

// emitTailMask loads Y15 with CX (1 to 7) lanes of ones.
func emitTailMask() {
	pf(&asmOut, "\tMOVQ $8, BX")
	pf(&asmOut, "\tSUBQ CX, BX")
	pf(&asmOut, "\tLEAQ vmtail<>(SB), R10")
	pf(&asmOut, "\tVMOVUPS (R10)(BX*4), Y%d // the first CX lanes set", maskReg)
}

func emitReduction(k reduction) {
	var ptrs []string
	if k.store {
		ptrs = append(ptrs, "dst")
	}
	ptrs = append(ptrs, k.ins...)
	nOff := 8 * len(ptrs)
	pOff := nOff + 8
	retOff := (pOff + 4*len(k.params) + 7) &^ 7
	frame := retOff + 8*len(k.outs)
	asmName := k.name + "AVX2"
	regs := inRegs // input i is in regs[i]; dst (when stored) in DI

	pf(&asmOut, "// func %s(%s, n int%s) (%s float64)", asmName, goSig(ptrs, "*float32"), prefixComma(goSig(k.params, "float32")), strings.Join(k.outs, ", "))
	pf(&asmOut, "// %s over i < n: float32 lanes, two accumulators, added into float64 every 128 elements.", k.doc)
	pf(&asmOut, "TEXT ·%s(SB), NOSPLIT, $0-%d", asmName, frame)
	for i, p := range ptrs {
		r := "DI"
		if j := i - len(ptrs) + len(k.ins); j >= 0 {
			r = regs[j]
		}
		pf(&asmOut, "\tMOVQ %s+%d(FP), %s", p, 8*i, r)
	}
	pf(&asmOut, "\tMOVQ n+%d(FP), CX", nOff)
	pf(&asmOut, "\tXORQ AX, AX // byte offset")
	e := newE(false, &asmOut)
	var par []V
	for i, p := range k.params {
		r := e.new()
		par = append(par, r)
		pf(&asmOut, "\tVBROADCASTSS %s+%d(FP), Y%d", p, pOff+4*i, r.r)
	}
	no := len(k.outs)
	var f64, accA, accB []V
	for i := 0; i < no; i++ {
		f64 = append(f64, e.new())
		accA = append(accA, e.new())
		accB = append(accB, e.new())
	}
	for _, r := range append(append(append([]V{}, f64...), accA...), accB...) {
		pf(&asmOut, "\tVXORPS Y%d, Y%d, Y%d", r.r, r.r, r.r)
	}
	base := e.used
	body := func(off int, acc []V, tail bool) {
		e.used = base
		e.tail = tail
		var in []V
		for i := range k.ins {
			r := e.new()
			in = append(in, r)
			if tail {
				e.ins("VMASKMOVPS %d(%s)(AX*1), Y%d, Y%d", off, regs[i], maskReg, r.r)
			} else {
				e.ins("VMOVUPS %d(%s)(AX*1), Y%d", off, regs[i], r.r)
			}
		}
		res := k.body(e, in, par, acc)
		if k.store {
			if tail {
				e.ins("VMASKMOVPS Y%d, Y%d, %d(DI)(AX*1)", res.r, maskReg, off)
			} else {
				e.ins("VMOVUPS Y%d, %d(DI)(AX*1)", res.r, off)
			}
		}
	}
	flush := func(useB bool) {
		e.used = base
		t := e.new()
		for i := 0; i < no; i++ {
			a := accA[i].r
			if useB {
				pf(&asmOut, "\tVADDPS Y%d, Y%d, Y%d", accB[i].r, a, a)
				pf(&asmOut, "\tVXORPS Y%d, Y%d, Y%d", accB[i].r, accB[i].r, accB[i].r)
			}
			pf(&asmOut, "\tVCVTPS2PD X%d, Y%d", a, t.r)
			pf(&asmOut, "\tVADDPD Y%d, Y%d, Y%d", t.r, f64[i].r, f64[i].r)
			pf(&asmOut, "\tVEXTRACTF128 $1, Y%d, X%d", a, t.r)
			pf(&asmOut, "\tVCVTPS2PD X%d, Y%d", t.r, t.r)
			pf(&asmOut, "\tVADDPD Y%d, Y%d, Y%d", t.r, f64[i].r, f64[i].r)
			pf(&asmOut, "\tVXORPS Y%d, Y%d, Y%d", a, a, a)
		}
	}
	pf(&asmOut, "block:")
	pf(&asmOut, "\tCMPQ CX, $128")
	pf(&asmOut, "\tJL   rest")
	pf(&asmOut, "\tMOVQ $8, R11")
	pf(&asmOut, "blockloop:")
	body(0, accA, false)
	body(32, accB, false)
	pf(&asmOut, "\tADDQ $64, AX")
	pf(&asmOut, "\tDECQ R11")
	pf(&asmOut, "\tJNZ  blockloop")
	pf(&asmOut, "\tSUBQ $128, CX")
	flush(true)
	pf(&asmOut, "\tJMP  block")
	// Fewer than 128 left: pairs of vectors into both accumulators, then
	// one vector, then the masked tail.
	pf(&asmOut, "rest:")
	pf(&asmOut, "\tCMPQ CX, $16")
	pf(&asmOut, "\tJL   rest1")
	body(0, accA, false)
	body(32, accB, false)
	pf(&asmOut, "\tADDQ $64, AX")
	pf(&asmOut, "\tSUBQ $16, CX")
	pf(&asmOut, "\tJMP  rest")
	pf(&asmOut, "rest1:")
	pf(&asmOut, "\tCMPQ CX, $8")
	pf(&asmOut, "\tJL   tail")
	body(0, accA, false)
	pf(&asmOut, "\tADDQ $32, AX")
	pf(&asmOut, "\tSUBQ $8, CX")
	pf(&asmOut, "tail:")
	pf(&asmOut, "\tTESTQ CX, CX")
	pf(&asmOut, "\tJE    done")
	emitTailMask()
	body(0, accA, true)
	pf(&asmOut, "done:")
	flush(true)
	for i, o := range k.outs {
		r := f64[i].r
		pf(&asmOut, "\tVEXTRACTF128 $1, Y%d, X14", r)
		pf(&asmOut, "\tVADDPD X14, X%d, X%d", r, r)
		pf(&asmOut, "\tVHADDPD X%d, X%d, X%d", r, r, r)
		pf(&asmOut, "\tVMOVSD X%d, %s+%d(FP)", r, o, retOff+8*i)
	}
	pf(&asmOut, "\tVZEROUPPER")
	pf(&asmOut, "\tRET")
	asmOut.Write(e.slow.Bytes())
	pf(&asmOut, "")

	// Declaration and dispatch.
	outs := strings.Join(k.outs, ", ") + " float64"
	pf(&amd64Out, "//go:noescape")
	pf(&amd64Out, "func %s(%s, n int%s) (%s)", asmName, goSig(ptrs, "*float32"), prefixComma(goSig(k.params, "float32")), outs)
	pf(&amd64Out, "")
	lead := ptrs[0]
	sliceSig := joinSig(goSig(ptrs, "[]float32"), goSig(k.params, "float32"))
	args := strings.Join(append(append([]string{}, ptrs...), k.params...), ", ")
	pf(&amd64Out, "// %sVec returns %s over i < len(%s) (the other slices may be longer).", k.name, k.doc, lead)
	pf(&amd64Out, "func %sVec(%s) (%s) {", k.name, sliceSig, outs)
	for _, p := range ptrs[1:] {
		pf(&amd64Out, "\t%s = %s[:len(%s)]", p, p, lead)
	}
	pf(&amd64Out, "\tif vmathAsm && hasVecAVX2 && len(%s) > 0 {", lead)
	var addrs []string
	for _, p := range ptrs {
		addrs = append(addrs, "&"+p+"[0]")
	}
	pf(&amd64Out, "\t\treturn %s(%s, len(%s)%s)", asmName, strings.Join(addrs, ", "), lead, prefixComma(strings.Join(k.params, ", ")))
	pf(&amd64Out, "\t}")
	pf(&amd64Out, "\treturn %sGo(%s)", k.name, args)
	pf(&amd64Out, "}")
	pf(&amd64Out, "")
	pf(&otherOut, "// %sVec returns %s over i < len(%s) (the other slices may be longer).", k.name, k.doc, lead)
	pf(&otherOut, "func %sVec(%s) (%s) { return %sGo(%s) }", k.name, sliceSig, outs, k.name, args)
	pf(&otherOut, "")

	// Portable Go: float32 lanes of 16 elements, added into float64.
	var b bytes.Buffer
	g := newE(true, &b)
	for _, p := range k.params {
		r := g.new()
		pf(&b, "\ty%d = %s", r.r, p)
	}
	var acc []V
	for range k.outs {
		acc = append(acc, g.new())
	}
	pf(&b, "\tfor len(%s) > 0 {", lead)
	pf(&b, "\t\tk := min(len(%s), 16)", lead)
	for _, a := range acc {
		pf(&b, "\t\ty%d = 0", a.r)
	}
	pf(&b, "\t\tfor i := 0; i < k; i++ {")
	var in []V
	for _, name := range k.ins {
		r := g.new()
		in = append(in, r)
		pf(&b, "\t\t\ty%d = %s[i]", r.r, name)
	}
	var inner bytes.Buffer
	g.out = &inner
	res := k.body(g, in, parRegs(len(k.params)), acc)
	g.out = &b
	indent(&b, "\t"+strings.ReplaceAll(strings.TrimRight(inner.String(), "\n"), "\n", "\n\t"))
	if k.store {
		pf(&b, "\t\t\tdst[i] = y%d", res.r)
	}
	pf(&b, "\t\t}")
	for i, a := range acc {
		pf(&b, "\t\t%s += float64(y%d)", k.outs[i], a.r)
	}
	for _, p := range ptrs {
		pf(&b, "\t\t%s = %s[k:]", p, p)
	}
	pf(&b, "\t}")
	pf(&b, "\treturn")
	pf(&goOut, "// %sGo returns %s over i < len(%s): the portable form of %s.", k.name, k.doc, lead, asmName)
	pf(&goOut, "func %sGo(%s) (%s) {", k.name, sliceSig, outs)
	for _, p := range ptrs[1:] {
		pf(&goOut, "\t%s = %s[:len(%s)]", p, p, lead)
	}
	declare(&goOut, g.seen)
	goOut.Write(b.Bytes())
	pf(&goOut, "}")
	pf(&goOut, "")
	noteConsts(asmOut.String())
	noteConsts(goOut.String())
}

// emitExtremum writes the NaN-propagating max or min of a slice (the Go
// form, maxGo/minGo, is written by hand in vmath.go).
func emitExtremum(name, op, fill string) {
	asmName := name + "AVX2"
	pf(&asmOut, "// func %s(x *float32, n int) float32", asmName)
	pf(&asmOut, "// The %s of x[:n] (n ≥ 1), NaN when any element is NaN: four", name)
	pf(&asmOut, "// accumulators, and an OR of unordered compares for the NaNs.")
	pf(&asmOut, "TEXT ·%s(SB), NOSPLIT, $0-20", asmName)
	pf(&asmOut, "\tMOVQ x+0(FP), SI")
	pf(&asmOut, "\tMOVQ n+8(FP), CX")
	pf(&asmOut, "\tXORQ AX, AX")
	pf(&asmOut, "\tVMOVUPS vmc_%s<>(SB), Y0", fill)
	pf(&asmOut, "\tVMOVUPS Y0, Y1")
	pf(&asmOut, "\tVMOVUPS Y0, Y2")
	pf(&asmOut, "\tVMOVUPS Y0, Y3")
	pf(&asmOut, "\tVXORPS Y4, Y4, Y4 // NaN lanes seen")
	pf(&asmOut, "loop4:")
	pf(&asmOut, "\tCMPQ CX, $32")
	pf(&asmOut, "\tJL   loop1")
	for j := 0; j < 4; j++ {
		pf(&asmOut, "\tVMOVUPS %d(SI)(AX*1), Y%d", 32*j, 8+j)
		pf(&asmOut, "\t%s Y%d, Y%d, Y%d", op, j, 8+j, j)
		pf(&asmOut, "\tVCMPPS $3, Y%d, Y%d, Y%d", 8+j, 8+j, 12+j)
		pf(&asmOut, "\tVORPS Y%d, Y4, Y4", 12+j)
	}
	pf(&asmOut, "\tADDQ $128, AX")
	pf(&asmOut, "\tSUBQ $32, CX")
	pf(&asmOut, "\tJMP  loop4")
	pf(&asmOut, "loop1:")
	pf(&asmOut, "\tCMPQ CX, $8")
	pf(&asmOut, "\tJL   tail")
	pf(&asmOut, "\tVMOVUPS (SI)(AX*1), Y8")
	pf(&asmOut, "\t%s Y0, Y8, Y0", op)
	pf(&asmOut, "\tVCMPPS $3, Y8, Y8, Y12")
	pf(&asmOut, "\tVORPS Y12, Y4, Y4")
	pf(&asmOut, "\tADDQ $32, AX")
	pf(&asmOut, "\tSUBQ $8, CX")
	pf(&asmOut, "\tJMP  loop1")
	pf(&asmOut, "tail:")
	pf(&asmOut, "\tTESTQ CX, CX")
	pf(&asmOut, "\tJE    done")
	emitTailMask()
	pf(&asmOut, "\tVMASKMOVPS (SI)(AX*1), Y15, Y8")
	pf(&asmOut, "\tVMOVUPS vmc_%s<>(SB), Y9", fill)
	pf(&asmOut, "\tVBLENDVPS Y15, Y8, Y9, Y8 // lanes past the end: the fill value")
	pf(&asmOut, "\t%s Y0, Y8, Y0", op)
	pf(&asmOut, "\tVCMPPS $3, Y8, Y8, Y12")
	pf(&asmOut, "\tVORPS Y12, Y4, Y4")
	pf(&asmOut, "done:")
	pf(&asmOut, "\t%s Y1, Y0, Y0", op)
	pf(&asmOut, "\t%s Y3, Y2, Y2", op)
	pf(&asmOut, "\t%s Y2, Y0, Y0", op)
	pf(&asmOut, "\tVEXTRACTF128 $1, Y0, X1")
	pf(&asmOut, "\t%s X1, X0, X0", op)
	pf(&asmOut, "\tVPERMILPS $0x4e, X0, X1")
	pf(&asmOut, "\t%s X1, X0, X0", op)
	pf(&asmOut, "\tVPERMILPS $0xb1, X0, X1")
	pf(&asmOut, "\t%s X1, X0, X0", op)
	pf(&asmOut, "\tVMOVMSKPS Y4, BX")
	pf(&asmOut, "\tTESTQ BX, BX")
	pf(&asmOut, "\tJE   ret")
	pf(&asmOut, "\tVMOVSS vmc_qnan<>(SB), X0")
	pf(&asmOut, "ret:")
	pf(&asmOut, "\tVMOVSS X0, ret+16(FP)")
	pf(&asmOut, "\tVZEROUPPER")
	pf(&asmOut, "\tRET")
	pf(&asmOut, "")
	pf(&amd64Out, "//go:noescape")
	pf(&amd64Out, "func %s(x *float32, n int) float32", asmName)
	pf(&amd64Out, "")
	pf(&amd64Out, "// %sVec returns the %s of x (len(x) ≥ 1), NaN when any element is NaN.", name, name)
	pf(&amd64Out, "func %sVec(x []float32) float32 {", name)
	pf(&amd64Out, "\tif vmathAsm && hasVecAVX2 {")
	pf(&amd64Out, "\t\treturn %s(&x[0], len(x))", asmName)
	pf(&amd64Out, "\t}")
	pf(&amd64Out, "\treturn %sGo(x)", name)
	pf(&amd64Out, "}")
	pf(&amd64Out, "")
	pf(&otherOut, "// %sVec returns the %s of x (len(x) ≥ 1), NaN when any element is NaN.", name, name)
	pf(&otherOut, "func %sVec(x []float32) float32 { return %sGo(x) }", name, name)
	pf(&otherOut, "")
	usedConsts[fill] = true
	usedConsts["qnan"] = true
}

func main() {
	const header = "// Code generated by vmath_gen.go; DO NOT EDIT.\n\n"
	asmOut.WriteString(header + "//go:build amd64\n\n#include \"textflag.h\"\n\n")
	asmOut.WriteString("// Registers: DI dst, SI DX R8 R9 the inputs, CX elements left, AX the byte\n")
	asmOut.WriteString("// offset into every slice, Y15 the tail's lane mask (VMASKMOVPS loads\n")
	asmOut.WriteString("// zeros there and stores nothing). Operands are in Go order: sources\n")
	asmOut.WriteString("// first, destination last; constants are 8-lane memory operands.\n\n")
	amd64Out.WriteString(header + "//go:build amd64\n\npackage cpu\n\n")
	amd64Out.WriteString("// vmathHaveAsm reports whether the kernels run the assembly.\n")
	amd64Out.WriteString("func vmathHaveAsm() bool { return vmathAsm && hasVecAVX2 }\n\n")
	otherOut.WriteString(header + "//go:build !amd64\n\npackage cpu\n\n")
	otherOut.WriteString("// vmathHaveAsm reports whether the kernels run the assembly: never here.\n")
	otherOut.WriteString("func vmathHaveAsm() bool { return false }\n\n")
	goOut.WriteString(header + "package cpu\n\nimport \"math\"\n\n")
	goOut.WriteString("// The portable kernels: per element, the same operations in the same order\n")
	goOut.WriteString("// as the assembly (see the helpers in vmath.go).\n\n")
	for _, k := range kernels {
		emitKernel(k)
	}
	for _, r := range reductions {
		emitReduction(r)
	}
	emitExtremum("max", "VMAXPS", "ninf")
	emitExtremum("min", "VMINPS", "pinf")

	// Constants.
	pf(&asmOut, "// The tail mask table: 8 lanes of ones, then 8 of zeros.")
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		pf(&asmOut, "DATA vmtail<>+%d(SB)/4, $0x%08x", 4*i, v)
	}
	pf(&asmOut, "GLOBL vmtail<>(SB), RODATA|NOPTR, $64")
	pf(&asmOut, "")
	var cgo bytes.Buffer
	pf(&cgo, "// The kernels' constants (the assembly holds the same bits).")
	pf(&cgo, "const (")
	var vars bytes.Buffer
	for _, c := range consts {
		if !usedConsts[c.name] {
			continue
		}
		pf(&asmOut, "// %s: %s", c.name, c.doc)
		for i := 0; i < 8; i++ {
			pf(&asmOut, "DATA vmc_%s<>+%d(SB)/4, $0x%08x", c.name, 4*i, c.bits)
		}
		pf(&asmOut, "GLOBL vmc_%s<>(SB), RODATA|NOPTR, $32", c.name)
		if c.isFloat {
			f := math.Float32frombits(c.bits)
			pf(&cgo, "\t%s float32 = %s // %s", goConst(c.name), strconv.FormatFloat(float64(f), 'x', -1, 32), c.doc)
		} else {
			pf(&vars, "\t%s = math.Float32frombits(0x%08x) // %s", goConst(c.name), c.bits, c.doc)
		}
	}
	pf(&cgo, ")")
	pf(&cgo, "")
	pf(&cgo, "var (")
	cgo.Write(vars.Bytes())
	pf(&cgo, ")")
	goOut.Write(cgo.Bytes())

	for name, b := range map[string]*bytes.Buffer{
		"vmath_amd64.s": &asmOut, "vmath_amd64.go": &amd64Out, "vmath_other.go": &otherOut, "vmath_kern.go": &goOut,
	} {
		src := b.Bytes()
		if strings.HasSuffix(name, ".go") {
			var err error
			if src, err = format.Source(src); err != nil {
				fmt.Fprintln(os.Stderr, name, err)
				os.WriteFile(name, b.Bytes(), 0o644)
				os.Exit(1)
			}
		}
		if err := os.WriteFile(name, src, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
