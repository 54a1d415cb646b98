package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// MicroKernel is the innermost GEMM tile together with the blocking that
// suits it. Fn computes
//
//	C[0:m, 0:n] = Apacked * Bpacked + beta*C[0:m, 0:n]
//
// for one MR x NR tile of C (row-major, leading dimension ldc), where
// 1 <= m <= MR and 1 <= n <= NR; with beta == 0 it must not read C. Packed A
// holds MR values per k step (rows past m are zero), packed B holds NR values
// per k step (columns past n are zero), kc steps in all.
//
// KC, MC and NC are the kernel's blocking: the driver streams a KC x NR
// sliver of packed B through L1 against an MC x KC block of packed A held
// in L2, and keeps packed B for an NC-wide panel of columns (all of k, at
// most 16 MiB) in the last-level cache. It rounds MC down to a multiple of
// MR and NC to a multiple of NR; parallel runs use smaller row blocks.
//
// Assembly kernels plug in here: set Kernel (the tests force each available
// kernel in turn).
type MicroKernel struct {
	Name       string
	MR, NR     int
	KC, MC, NC int
	Fn         func(kc int, a, b, c []float32, ldc, m, n int, beta float32)
}

// GoKernel is the portable micro-kernel, a 4x4 tile in plain Go.
var GoKernel = MicroKernel{Name: "go4x4", MR: 4, NR: 4, KC: 256, MC: 64, NC: 2048, Fn: kernel4x4}

// Kernel is the micro-kernel every GEMM uses. It starts as the fastest one
// this CPU supports.
var Kernel = GoKernel

func kernel4x4(kc int, a, b, c []float32, ldc, m, n int, beta float32) {
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
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	storeTile(acc[:m], c, ldc, n, beta)
}

// storeTile writes C = acc + beta*C for the first len(acc) rows and n columns
// of a tile; with beta == 0 it does not read C.
func storeTile(acc [][4]float32, c []float32, ldc, n int, beta float32) {
	for i := range acc {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = acc[i][j]
			} else {
				row[j] = acc[i][j] + beta*row[j]
			}
		}
	}
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
	// PackB, when set, packs op(B) instead of reading it from b (which may
	// then be nil): it must fill dst[p*nr+j] with op(B) of batch item i at
	// row pc+p and column col+j for p < kc and j < w, and zero for
	// w ≤ j < nr. Convolutions use it to pack straight from the image
	// (implicit im2col).
	PackB func(i int, dst []float32, pc, kc, col, w, nr int)
	// Serial runs the product on the calling goroutine only (for callers
	// that parallelise over independent products themselves).
	Serial bool
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for one row-major matrix
// product, in parallel over the worker pool.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := Gemm{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: alpha, Beta: beta, Batch: 1, LDA: lda, LDB: ldb, LDC: ldc}
	g.Run(a, b, c)
}

// Run performs the batched product described by g. Large products are split
// across the worker pool inside each matrix; a batch of small ones, or of
// many, is split across the pool one matrix per task.
func (g Gemm) Run(a, b, c []float32) {
	if g.Batch <= 0 || g.M <= 0 || g.N <= 0 {
		return
	}
	if g.Serial {
		for i := 0; i < g.Batch; i++ {
			g.single(i, a, b, c, false)
		}
		return
	}
	flops := g.M * g.N * max(g.K, 1)
	if g.Batch > 1 && (flops <= 256*256*64 || g.Batch >= 4*Workers()) {
		// Many products, or small ones: one task per matrix.
		ParallelTasks(g.Batch, func(i int) { g.single(i, a, b, c, false) })
		return
	}
	for i := 0; i < g.Batch; i++ {
		g.single(i, a, b, c, true)
	}
}

// single computes batch item i. The loops follow the GotoBLAS/BLIS scheme:
// for each NC-wide panel of columns (jc), op(B) is packed into KC-deep,
// NR-wide slivers shared by every worker, and tasks, each a block of MC rows
// of C (and, when there are too few row blocks to keep the workers busy, a
// group of B slivers), walk the KC slices of k in order: pack their rows of
// op(A) into MR-high slivers, then run the micro-kernel over every sliver
// pair. B slivers are packed by whichever task needs them first, so one
// fork/join per column panel is all the synchronisation there is: waking a
// parked pool worker costs tens of microseconds on some machines, as much as
// a whole 256^3 product.
func (g *Gemm) single(i int, a, b, c []float32, parallel bool) {
	a = a[g.OffA+i*g.StrideA:]
	if g.PackB == nil {
		b = b[g.OffB+i*g.StrideB:]
	}
	c = c[g.OffC+i*g.StrideC:]
	m, n, k := g.M, g.N, g.K
	if k == 0 || g.Alpha == 0 {
		g.scaleC(c)
		return
	}
	if m*n*k <= smallGemm && g.PackB == nil {
		g.scaleC(c)
		g.naive(a, b, c)
		return
	}
	kern := Kernel
	mr, nr := kern.MR, kern.NR
	kcMax, mcMax := max(kern.KC, 1), max(kern.MC/mr, 1)*mr
	// Columns per panel: at most NC, and few enough that the packed panel
	// (k x nc) stays within maxPackedB floats.
	ncMax := max(1, min(kern.NC, maxPackedB/k)/nr) * nr
	workers := 1
	if parallel {
		workers = Workers()
	}
	kPanels := (k + kcMax - 1) / kcMax
	mSl := (m + mr - 1) / mr
	ldc := g.LDC
	for jc := 0; jc < n; jc += ncMax {
		nc := min(ncMax, n-jc)
		nSl := (nc + nr - 1) / nr
		bp := getBuf(&bufB, nSl*nr*k)
		st := getFlags(kPanels * nSl)
		// sliverB returns packed B for k slice q and sliver js, packing it
		// first if no task has; a task that finds it being packed waits.
		sliverB := func(q, js int) []float32 {
			pc := q * kcMax
			kc := min(kcMax, k-pc)
			off := pc*nSl*nr + js*nr*kc
			dst := bp[off : off+nr*kc]
			f := &st[q*nSl+js]
			if f.Load() == sliverReady {
				return dst
			}
			if f.CompareAndSwap(sliverNew, sliverPacking) {
				if g.PackB != nil {
					g.PackB(i, dst, pc, kc, jc+js*nr, min(nr, nc-js*nr), nr)
				} else {
					g.packB(dst, b, pc, kc, jc+js*nr, min(nr, nc-js*nr), nr)
				}
				f.Store(sliverReady)
				return dst
			}
			for spins := 0; f.Load() != sliverReady; spins++ {
				if spins > 64 {
					runtime.Gosched()
				}
			}
			return dst
		}

		// Split the work into tasks: blocks of whole MR slivers of rows
		// and, where there are few of those, groups of B slivers. A
		// parallel run wants many tasks (a worker that joins late, or is
		// slowed by other load, still finds work, and the last task is a
		// small part of the whole) but not blocks so small that every
		// kernel call reloads its B sliver, nor so many column groups that
		// packing A is repeated much.
		blkMax := mcMax / mr
		nbM, nbN := (mSl+blkMax-1)/blkMax, 1
		if workers > 1 {
			nbM = max(nbM, min(16*workers, (mSl+1)/2))
			if nbM < 8*workers {
				nbN = min(nSl, (8*workers+nbM-1)/nbM)
			}
		}
		task := func(t int) {
			if t == 0 && workers > 1 {
				// The caller takes task 0 while the helper it just woke
				// sits in the caller's P as runnext, which an idle P may
				// only steal after a short sleep (tens of microseconds
				// with timer slack, in a VM). Yielding once lets the
				// helper start here at once, while the idle P picks the
				// caller up from the global run queue: 256^3 goes from
				// ~235 to ~195 microseconds on 2 cores.
				runtime.Gosched()
			}
			ib, jb := t/nbN, t%nbN
			s0, s1 := ib*mSl/nbM, (ib+1)*mSl/nbM
			j0, j1 := jb*nSl/nbN, (jb+1)*nSl/nbN
			ap := getBuf(&bufA, (s1-s0)*mr*min(kcMax, k))
			for q := 0; q < kPanels; q++ {
				pc := q * kcMax
				kc := min(kcMax, k-pc)
				// The first k slice applies beta; later ones accumulate.
				beta := float32(1)
				if q == 0 {
					beta = g.Beta
				}
				for s := s0; s < s1; s++ {
					g.packA(ap[(s-s0)*mr*kc:(s-s0+1)*mr*kc], a, s*mr, min(mr, m-s*mr), pc, kc, mr)
				}
				for js := j0; js < j1; js++ {
					col := jc + js*nr
					nw := min(nr, n-col)
					bs := sliverB(q, js)
					for is := s0; is < s1; is++ {
						row := is * mr
						as := ap[(is-s0)*mr*kc : (is-s0+1)*mr*kc]
						kern.Fn(kc, as, bs, c[row*ldc+col:], ldc, min(mr, m-row), nw, beta)
					}
				}
			}
			putBuf(&bufA, ap)
		}
		if workers > 1 {
			ParallelTasks(nbM*nbN, task)
		} else {
			for t := 0; t < nbM*nbN; t++ {
				task(t)
			}
		}
		putFlags(st)
		putBuf(&bufB, bp)
	}
}

// maxPackedB bounds the packed copy of op(B) for one column panel (all of k):
// 16 MiB, half this CPU's last-level cache.
const maxPackedB = 4 << 20

// States of a packed B sliver.
const (
	sliverNew uint32 = iota
	sliverPacking
	sliverReady
)

var flagPool sync.Pool

// getFlags returns n sliver states, all sliverNew.
func getFlags(n int) []atomic.Uint32 {
	if v, ok := flagPool.Get().(*[]atomic.Uint32); ok && cap(*v) >= n {
		f := (*v)[:n]
		for i := range f {
			f[i].Store(sliverNew)
		}
		return f
	}
	return make([]atomic.Uint32, n)
}

func putFlags(f []atomic.Uint32) { flagPool.Put(&f) }

// scaleC sets C = beta*C (zero, without reading C, when beta == 0).
func (g *Gemm) scaleC(c []float32) {
	if g.Beta == 1 {
		return
	}
	for r := 0; r < g.M; r++ {
		row := c[r*g.LDC : r*g.LDC+g.N]
		if g.Beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= g.Beta
		}
	}
}

// packA copies rows [row, row+h) and columns [pc, pc+kc) of alpha*op(A) into
// dst, mr values per k step, zero-padding rows past h.
func (g *Gemm) packA(dst, a []float32, row, h, pc, kc, mr int) {
	if g.TransA {
		// A stored K x M: the mr values of one k step are contiguous.
		packCopy(dst, a[pc*g.LDA+row:], g.LDA, kc, mr, h, g.Alpha)
		return
	}
	packTrans(dst, a[row*g.LDA+pc:], g.LDA, kc, mr, h, g.Alpha)
}

// packB copies rows [pc, pc+kc) and columns [col, col+w) of op(B) into dst, nr
// values per k step, zero-padding columns past w.
func (g *Gemm) packB(dst, b []float32, pc, kc, col, w, nr int) {
	if g.TransB {
		// B stored N x K: column j of op(B) is row j of B.
		packTrans(dst, b[col*g.LDB+pc:], g.LDB, kc, nr, w, 1)
		return
	}
	packCopy(dst, b[pc*g.LDB+col:], g.LDB, kc, nr, w, 1)
}

// packCopy sets dst[p*width+j] = alpha*src[p*ld+j] for p < kc and j < w,
// and zero for w <= j < width. Assembly versions replace it where the CPU
// allows.
var packCopy = packCopyGo

// packTrans sets dst[p*width+i] = alpha*src[i*ld+p] for p < kc and i < h,
// and zero for h <= i < width: a transposing pack.
var packTrans = packTransGo

// packerSet is one implementation of the two packing routines.
type packerSet struct {
	name        string
	copy, trans func(dst, src []float32, ld, kc, width, valid int, alpha float32)
}

// packerSets lists the packing routines this CPU can run, the ones in use
// (packCopy, packTrans) first and the portable ones last; the tests run
// every set.
var packerSets = []packerSet{{"go", packCopyGo, packTransGo}}

func packCopyGo(dst, src []float32, ld, kc, width, w int, alpha float32) {
	dst = dst[:kc*width]
	if w < width {
		clear(dst)
	}
	for p := 0; p < kc; p++ {
		d := dst[p*width : p*width+w]
		s := src[p*ld : p*ld+w]
		if alpha == 1 {
			copy(d, s)
			continue
		}
		for j, v := range s {
			d[j] = alpha * v
		}
	}
}

func packTransGo(dst, src []float32, ld, kc, width, h int, alpha float32) {
	dst = dst[:kc*width]
	if h < width {
		clear(dst)
	}
	for i := 0; i < h; i++ {
		s := src[i*ld : i*ld+kc]
		for p, v := range s {
			dst[p*width+i] = alpha * v
		}
	}
}

// naive is the small-problem path: no packing, i-p-j loop order. C must
// already hold beta*C.
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

// Scratch buffers for packed panels of A and B, pooled separately so that
// the small A blocks and the large B panels do not evict each other.
var bufA, bufB sync.Pool

// getBuf returns a scratch slice of length n (contents undefined) whose
// first element is 64-byte aligned, so packed rows do not straddle cache
// lines.
func getBuf(pool *sync.Pool, n int) []float32 {
	if v, ok := pool.Get().(*[]float32); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	s := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n]
}

func putBuf(pool *sync.Pool, b []float32) {
	pool.Put(&b)
}

// Available lists the micro-kernels this CPU can run, fastest first; the
// portable Go kernel is always last.
func Available() []MicroKernel {
	return append(append([]MicroKernel{}, extraKernels...), GoKernel)
}

// extraKernels holds the assembly micro-kernels the CPU supports; files that
// add one register it here from init and set Kernel.
var extraKernels []MicroKernel

// smallGemm is the largest m·n·k that the unpacked loop computes: above
// about 12³ the packed micro-kernel path is faster even with its packing
// (3–10x at attention's 17×17×32 and 24³, BenchmarkSmallBatched), below it
// the packing costs more than it saves.
var smallGemm = 12 * 12 * 12
