package cpu

import "sync"

// Blocking parameters for the packed GEMM. kc*mr and kc*nr panels stay in L1,
// an mc*kc block of A in L2, a kc*nc panel of B in the last-level cache.
const (
	gemmKC = 256
	gemmMC = 64
	gemmNC = 2048
)

// MicroKernel is the innermost GEMM tile: it adds the product of a packed
// MR x kc sliver of A and a packed kc x NR sliver of B into an MR x NR tile of
// C (row-major, leading dimension ldc). Packed A holds MR values per k step,
// packed B holds NR values per k step. Assembly kernels plug in here: set
// Kernel (the tests force each available kernel in turn).
type MicroKernel struct {
	Name   string
	MR, NR int
	Fn     func(kc int, a, b, c []float32, ldc int)
}

// GoKernel is the portable micro-kernel, a 4x4 tile in plain Go.
var GoKernel = MicroKernel{Name: "go4x4", MR: 4, NR: 4, Fn: kernel4x4}

// Kernel is the micro-kernel every GEMM uses. It starts as the fastest one
// this CPU supports.
var Kernel = GoKernel

func kernel4x4(kc int, a, b, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p < kc; p++ {
		ap := a[p*4 : p*4+4 : p*4+4]
		bp := b[p*4 : p*4+4 : p*4+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	r := c[0 : 3*ldc+4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
	r = c[2*ldc : 2*ldc+4]
	r[0] += c20
	r[1] += c21
	r[2] += c22
	r[3] += c23
	r = c[3*ldc : 3*ldc+4]
	r[0] += c30
	r[1] += c31
	r[2] += c32
	r[3] += c33
}

// Gemm describes C = alpha*op(A)*op(B) + beta*C over Batch row-major
// matrices: op(A) is M x K, op(B) is K x N, C is M x N. Matrix i of A starts
// at OffA + i*StrideA (a stride of 0 reuses one matrix for every batch), and
// likewise for B and C. op(A) = A^T when TransA, in which case A is stored
// K x M with leading dimension LDA.
type Gemm struct {
	TransA, TransB            bool
	M, N, K                   int
	Alpha, Beta               float32
	Batch                     int
	OffA, OffB, OffC          int
	LDA, LDB, LDC             int
	StrideA, StrideB, StrideC int
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for one row-major matrix
// product, in parallel over the worker pool.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := Gemm{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: alpha, Beta: beta, Batch: 1, LDA: lda, LDB: ldb, LDC: ldc}
	g.Run(a, b, c)
}

// Run performs the batched product described by g.
func (g Gemm) Run(a, b, c []float32) {
	if g.Batch <= 0 || g.M <= 0 || g.N <= 0 {
		return
	}
	flops := g.M * g.N * max(g.K, 1)
	if g.Batch > 1 && flops <= 256*256*64 {
		// Many small products: one task per matrix.
		ParallelTasks(g.Batch, func(i int) { g.single(i, a, b, c, false) })
		return
	}
	for i := 0; i < g.Batch; i++ {
		g.single(i, a, b, c, true)
	}
}

func (g *Gemm) single(i int, a, b, c []float32, parallel bool) {
	a = a[g.OffA+i*g.StrideA:]
	b = b[g.OffB+i*g.StrideB:]
	c = c[g.OffC+i*g.StrideC:]
	m, n, k := g.M, g.N, g.K
	ldc := g.LDC
	// C = beta*C first; the kernels then only accumulate.
	if g.Beta != 1 {
		for r := 0; r < m; r++ {
			row := c[r*ldc : r*ldc+n]
			if g.Beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= g.Beta
				}
			}
		}
	}
	if k == 0 || g.Alpha == 0 {
		return
	}
	if m*n*k <= 24*24*24 {
		g.naive(a, b, c)
		return
	}
	kern := Kernel
	mr, nr := kern.MR, kern.NR
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		nSlivers := (nc + nr - 1) / nr
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			bp := getBuf(nSlivers * nr * kc)
			packB := func(lo, hi int) {
				for s := lo; s < hi; s++ {
					g.packB(bp[s*nr*kc:(s+1)*nr*kc], b, pc, kc, jc+s*nr, min(nr, nc-s*nr), nr)
				}
			}
			if parallel {
				ParallelFor(nSlivers, 16, packB)
			} else {
				packB(0, nSlivers)
			}
			blocks := (m + gemmMC - 1) / gemmMC
			block := func(ib int) {
				ic := ib * gemmMC
				mc := min(gemmMC, m-ic)
				mSlivers := (mc + mr - 1) / mr
				ap := getBuf(mSlivers * mr * kc)
				for s := 0; s < mSlivers; s++ {
					g.packA(ap[s*mr*kc:(s+1)*mr*kc], a, ic+s*mr, min(mr, mc-s*mr), pc, kc, mr)
				}
				var tile [16 * 16]float32
				for js := 0; js < nSlivers; js++ {
					nw := min(nr, nc-js*nr)
					bs := bp[js*nr*kc : (js+1)*nr*kc]
					for is := 0; is < mSlivers; is++ {
						mh := min(mr, mc-is*mr)
						as := ap[is*mr*kc : (is+1)*mr*kc]
						row, col := ic+is*mr, jc+js*nr
						if mh == mr && nw == nr {
							kern.Fn(kc, as, bs, c[row*ldc+col:], ldc)
							continue
						}
						t := tile[:mr*nr]
						clear(t)
						kern.Fn(kc, as, bs, t, nr)
						for x := 0; x < mh; x++ {
							cr := c[(row+x)*ldc+col : (row+x)*ldc+col+nw]
							for y := range cr {
								cr[y] += t[x*nr+y]
							}
						}
					}
				}
				putBuf(ap)
			}
			if parallel {
				ParallelTasks(blocks, block)
			} else {
				for ib := 0; ib < blocks; ib++ {
					block(ib)
				}
			}
			putBuf(bp)
		}
	}
}

// packA copies rows [row, row+h) and columns [pc, pc+kc) of alpha*op(A) into
// dst, mr values per k step, zero-padding rows past h.
func (g *Gemm) packA(dst, a []float32, row, h, pc, kc, mr int) {
	alpha := g.Alpha
	if h < mr {
		clear(dst[:kc*mr])
	}
	lda := g.LDA
	if g.TransA {
		// A stored K x M: element (i, p) at a[p*lda+i]; rows of A^T are contiguous in i.
		for p := 0; p < kc; p++ {
			src := a[(pc+p)*lda+row : (pc+p)*lda+row+h]
			d := dst[p*mr : p*mr+h]
			for i, v := range src {
				d[i] = alpha * v
			}
		}
		return
	}
	for i := 0; i < h; i++ {
		src := a[(row+i)*lda+pc : (row+i)*lda+pc+kc]
		for p, v := range src {
			dst[p*mr+i] = alpha * v
		}
	}
}

// packB copies rows [pc, pc+kc) and columns [col, col+w) of op(B) into dst, nr
// values per k step, zero-padding columns past w.
func (g *Gemm) packB(dst, b []float32, pc, kc, col, w, nr int) {
	if w < nr {
		clear(dst[:kc*nr])
	}
	ldb := g.LDB
	if g.TransB {
		// B stored N x K: element (p, j) at b[j*ldb+p].
		for j := 0; j < w; j++ {
			src := b[(col+j)*ldb+pc : (col+j)*ldb+pc+kc]
			for p, v := range src {
				dst[p*nr+j] = v
			}
		}
		return
	}
	for p := 0; p < kc; p++ {
		copy(dst[p*nr:p*nr+w], b[(pc+p)*ldb+col:(pc+p)*ldb+col+w])
	}
}

// naive is the small-problem path: no packing, i-p-j loop order.
func (g *Gemm) naive(a, b, c []float32) {
	m, n, k := g.M, g.N, g.K
	for i := 0; i < m; i++ {
		crow := c[i*g.LDC : i*g.LDC+n]
		for p := 0; p < k; p++ {
			var av float32
			if g.TransA {
				av = a[p*g.LDA+i]
			} else {
				av = a[i*g.LDA+p]
			}
			av *= g.Alpha
			if g.TransB {
				for j := range crow {
					crow[j] += av * b[j*g.LDB+p]
				}
			} else {
				brow := b[p*g.LDB : p*g.LDB+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
}

var bufPool sync.Pool

// getBuf returns a scratch slice of length n (contents undefined).
func getBuf(n int) []float32 {
	if v, ok := bufPool.Get().(*[]float32); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]float32, n)
}

func putBuf(b []float32) {
	bufPool.Put(&b)
}

// Available lists the micro-kernels this CPU can run, fastest first; the
// portable Go kernel is always last.
func Available() []MicroKernel {
	return append(append([]MicroKernel{}, extraKernels...), GoKernel)
}

// extraKernels holds the assembly micro-kernels the CPU supports; files that
// add one register it here from init and set Kernel.
var extraKernels []MicroKernel
