package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the naive float64 reference for one batch item.
func refGemm(g Gemm, i int, a, b, c []float32) []float32 {
	out := make([]float32, g.M*g.N)
	for r := 0; r < g.M; r++ {
		for col := 0; col < g.N; col++ {
			var s float64
			for p := 0; p < g.K; p++ {
				var av, bv float32
				if g.TransA {
					av = a[g.OffA+i*g.StrideA+p*g.LDA+r]
				} else {
					av = a[g.OffA+i*g.StrideA+r*g.LDA+p]
				}
				if g.TransB {
					bv = b[g.OffB+i*g.StrideB+col*g.LDB+p]
				} else {
					bv = b[g.OffB+i*g.StrideB+p*g.LDB+col]
				}
				s += float64(av) * float64(bv)
			}
			cv := c[g.OffC+i*g.StrideC+r*g.LDC+col]
			v := float64(g.Alpha) * s
			if g.Beta != 0 {
				v += float64(g.Beta) * float64(cv)
			}
			out[r*g.N+col] = float32(v)
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// checkGemm runs g on random operands (with padding around every matrix,
// so leading dimensions and offsets are exercised) and compares with the
// reference.
func checkGemm(t *testing.T, g Gemm) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(g.M*131+g.N*17+g.K), 5))
	rowsA, colsA := g.M, g.K
	if g.TransA {
		rowsA, colsA = g.K, g.M
	}
	rowsB, colsB := g.K, g.N
	if g.TransB {
		rowsB, colsB = g.N, g.K
	}
	g.LDA, g.LDB, g.LDC = colsA+3, colsB+1, g.N+2
	g.OffA, g.OffB, g.OffC = 5, 2, 7
	sizeA, sizeB, sizeC := rowsA*g.LDA, rowsB*g.LDB, g.M*g.LDC
	if g.StrideA != 0 {
		g.StrideA = sizeA
	}
	if g.StrideB != 0 {
		g.StrideB = sizeB
	}
	g.StrideC = sizeC
	a := randSlice(r, g.OffA+g.Batch*sizeA)
	b := randSlice(r, g.OffB+g.Batch*sizeB)
	c := randSlice(r, g.OffC+g.Batch*sizeC)
	orig := append([]float32(nil), c...)
	want := make([][]float32, g.Batch)
	for i := range want {
		want[i] = refGemm(g, i, a, b, orig)
	}
	g.Run(a, b, c)
	tol := 1e-4 * math.Sqrt(float64(g.K)+1)
	for i := 0; i < g.Batch; i++ {
		for row := 0; row < g.M; row++ {
			for col := 0; col < g.LDC; col++ {
				idx := g.OffC + i*g.StrideC + row*g.LDC + col
				if col >= g.N {
					if c[idx] != orig[idx] {
						t.Fatalf("batch %d: padding at row %d col %d was overwritten", i, row, col)
					}
					continue
				}
				w := want[i][row*g.N+col]
				if d := math.Abs(float64(c[idx] - w)); d > tol*math.Max(1, math.Abs(float64(w))) {
					t.Fatalf("batch %d (%d,%d): got %v want %v (|diff| %.3g)", i, row, col, c[idx], w, d)
				}
			}
		}
	}
	if c[0] != orig[0] {
		t.Fatal("element before OffC was overwritten")
	}
}

// kernels lists every micro-kernel this CPU can run; tests force each.
func kernels() []MicroKernel { return Available() }

func TestGemmOddSizesEveryTransposeEveryKernel(t *testing.T) {
	sizes := []int{1, 2, 7, 16, 33, 65, 257}
	saved := Kernel
	defer func() { Kernel = saved }()
	for _, k := range kernels() {
		Kernel = k
		for _, m := range sizes {
			for _, n := range sizes {
				for _, kk := range []int{1, 7, 33, 300} {
					if m*n*kk > 257*257*33 {
						continue
					}
					for tr := 0; tr < 4; tr++ {
						g := Gemm{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: kk, Alpha: 1, Beta: 0, Batch: 1}
						t.Run(fmt.Sprintf("%s/m%d_n%d_k%d_tA%v_tB%v", k.Name, m, n, kk, g.TransA, g.TransB), func(t *testing.T) {
							checkGemm(t, g)
						})
					}
				}
			}
		}
	}
}

func TestGemmAlphaBetaAndBatches(t *testing.T) {
	saved := Kernel
	defer func() { Kernel = saved }()
	for _, k := range kernels() {
		Kernel = k
		cases := []Gemm{
			{M: 40, N: 50, K: 60, Alpha: 0.5, Beta: 2, Batch: 1},
			{M: 40, N: 50, K: 60, Alpha: -1, Beta: 1, Batch: 1},
			{M: 33, N: 17, K: 9, Alpha: 1, Beta: 0, Batch: 5, StrideA: 1, StrideB: 1},
			{M: 33, N: 17, K: 9, Alpha: 1, Beta: 0.5, Batch: 3, StrideA: 1, StrideB: 0, TransA: true},
			{M: 100, N: 70, K: 300, Alpha: 1, Beta: 0, Batch: 2, StrideA: 0, StrideB: 1, TransB: true},
			{M: 300, N: 300, K: 300, Alpha: 1, Beta: 0, Batch: 2, StrideA: 1, StrideB: 1},
			{M: 5, N: 3000, K: 20, Alpha: 1, Beta: 0, Batch: 1},
			{M: 8, N: 8, K: 0, Alpha: 1, Beta: 0.5, Batch: 2, StrideA: 1, StrideB: 1},
		}
		for i, g := range cases {
			t.Run(fmt.Sprintf("%s/%d", k.Name, i), func(t *testing.T) { checkGemm(t, g) })
		}
	}
}

// TestMicroKernelEdgesEveryKernel calls each kernel directly on every tile
// shape m x n <= MR x NR with beta 0, 1 and -0.5: the tile must match a
// float64 reference, C must not be read when beta == 0 (it holds NaNs), and
// nothing outside the tile may change.
func TestMicroKernelEdgesEveryKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, k := range kernels() {
		for _, kc := range []int{1, 5, 17} {
			a, b := randSlice(r, kc*k.MR), randSlice(r, kc*k.NR)
			ldc := k.NR + 3
			for m := 1; m <= k.MR; m++ {
				for n := 1; n <= k.NR; n++ {
					for _, beta := range []float32{0, 1, -0.5} {
						c := randSlice(r, (k.MR+1)*ldc)
						if beta == 0 {
							for i := range c {
								c[i] = float32(math.NaN())
							}
						}
						orig := append([]float32(nil), c...)
						k.Fn(kc, a, b, c, ldc, m, n, beta)
						for i := 0; i <= k.MR; i++ {
							for j := 0; j < ldc; j++ {
								got := c[i*ldc+j]
								if i >= m || j >= n {
									if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
										t.Fatalf("%s kc=%d m=%d n=%d beta=%v: (%d,%d) outside the tile changed", k.Name, kc, m, n, beta, i, j)
									}
									continue
								}
								var want float64
								for p := 0; p < kc; p++ {
									want += float64(a[p*k.MR+i]) * float64(b[p*k.NR+j])
								}
								if beta != 0 {
									want += float64(beta) * float64(orig[i*ldc+j])
								}
								if d := math.Abs(float64(got) - want); !(d <= 1e-5*math.Max(1, math.Abs(want))) {
									t.Fatalf("%s kc=%d m=%d n=%d beta=%v: (%d,%d) got %v want %v", k.Name, kc, m, n, beta, i, j, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestPackersMatchGo checks the packing routines in use (assembly where the
// CPU has it) against the portable ones, bit for bit, including the zero
// padding and the tails of kc that do not fill a 16-step block.
func TestPackersMatchGo(t *testing.T) {
	for _, set := range packerSets {
		t.Run(set.name, func(t *testing.T) { testPackers(t, set.copy, set.trans) })
	}
}

func testPackers(t *testing.T, packCopy, packTrans func(dst, src []float32, ld, kc, width, valid int, alpha float32)) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, width := range []int{4, 6, 12, 16, 32} {
		for _, valid := range []int{1, width / 2, width - 1, width} {
			if valid < 1 {
				continue
			}
			for _, kc := range []int{1, 3, 15, 16, 17, 40, 256} {
				for _, alpha := range []float32{1, -2.5} {
					// Copy pack: kc rows of >= valid values, leading dimension ld.
					ld := valid + 5
					src := randSlice(r, kc*ld)
					want := make([]float32, kc*width+8)
					got := make([]float32, kc*width+8)
					for i := range got {
						got[i], want[i] = 99, 99
					}
					packCopyGo(want, src, ld, kc, width, valid, alpha)
					packCopy(got, src, ld, kc, width, valid, alpha)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("packCopy width=%d w=%d kc=%d alpha=%v: element %d got %v want %v", width, valid, kc, alpha, i, got[i], want[i])
						}
					}
					// Transposing pack: valid rows of >= kc values.
					ld = kc + 3
					src = randSlice(r, valid*ld)
					for i := range got {
						got[i], want[i] = 99, 99
					}
					packTransGo(want, src, ld, kc, width, valid, alpha)
					packTrans(got, src, ld, kc, width, valid, alpha)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("packTrans width=%d h=%d kc=%d alpha=%v: element %d got %v want %v", width, valid, kc, alpha, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestGemmSmallBlockingEveryKernel shrinks each kernel's blocking so that
// modest sizes cross many KC slices, MC blocks and NC panels, which is where
// beta (applied on the first slice only) and the packing offsets can go
// wrong.
// It runs with every set of packing routines the CPU has (the portable
// ones included, as used where there is no assembly for them).
func TestGemmSmallBlockingEveryKernel(t *testing.T) {
	saved, savedCopy, savedTrans := Kernel, packCopy, packTrans
	defer func() { Kernel, packCopy, packTrans = saved, savedCopy, savedTrans }()
	for _, set := range packerSets {
		packCopy, packTrans = set.copy, set.trans
		for _, k := range kernels() {
			k.KC, k.MC, k.NC = 7, 2*k.MR, 2*k.NR
			Kernel = k
			cases := []Gemm{
				{M: 61, N: 77, K: 45, Alpha: 0.7, Beta: 0, Batch: 1},
				{M: 61, N: 77, K: 45, Alpha: 1, Beta: 0.5, Batch: 1, TransA: true},
				{M: 30, N: 150, K: 16, Alpha: 1, Beta: 1, Batch: 1, TransB: true},
				{M: 100, N: 9, K: 33, Alpha: -2, Beta: 0, Batch: 3, StrideA: 1, StrideB: 1, TransA: true, TransB: true},
			}
			for i, g := range cases {
				t.Run(fmt.Sprintf("%s/%s/%d", set.name, k.Name, i), func(t *testing.T) { checkGemm(t, g) })
			}
		}
	}
}

// TestGemmParallelMatchesSerial: the split into tasks must not change a
// single bit, since every C tile sees the same kernel calls in the same
// order however the work is divided.
func TestGemmParallelMatchesSerial(t *testing.T) {
	saved := Kernel
	defer func() { Kernel = saved }()
	r := rand.New(rand.NewPCG(9, 9))
	for _, k := range kernels() {
		Kernel = k
		for _, sz := range [][3]int{{200, 300, 520}, {13, 700, 64}, {700, 40, 90}} {
			m, n, kk := sz[0], sz[1], sz[2]
			a, b := randSlice(r, m*kk), randSlice(r, kk*n)
			c1, c2 := make([]float32, m*n), make([]float32, m*n)
			g := Gemm{M: m, N: n, K: kk, Alpha: 1, Batch: 1, LDA: kk, LDB: n, LDC: n}
			g.Run(a, b, c1)
			g.single(0, a, b, c2, false)
			for i := range c1 {
				if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
					t.Fatalf("%s %v: element %d parallel %v serial %v", k.Name, sz, i, c1[i], c2[i])
				}
			}
		}
	}
}

// TestGemmBetaZeroIgnoresNaN: with beta == 0, whatever C held (NaN here)
// must not leak into the result, on the small path and the blocked one.
func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	saved := Kernel
	defer func() { Kernel = saved }()
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range kernels() {
		Kernel = k
		for _, sz := range []int{5, 70} {
			a, b := randSlice(r, sz*sz), randSlice(r, sz*sz)
			c := make([]float32, sz*sz)
			for i := range c {
				c[i] = float32(math.NaN())
			}
			Sgemm(false, false, sz, sz, sz, 1, a, sz, b, sz, 0, c, sz)
			for i, v := range c {
				if v != v {
					t.Fatalf("%s size %d: element %d is NaN", k.Name, sz, i)
				}
			}
		}
	}
}

func TestSgemmMatchesRun(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := randSlice(r, 70*80), randSlice(r, 80*90)
	c1 := make([]float32, 70*90)
	c2 := make([]float32, 70*90)
	Sgemm(false, false, 70, 90, 80, 1, a, 80, b, 90, 0, c1, 90)
	Gemm{M: 70, N: 90, K: 80, Alpha: 1, Batch: 1, LDA: 80, LDB: 90, LDC: 90}.Run(a, b, c2)
	for i := range c1 {
		if c1[i] != c2[i] {
			t.Fatalf("element %d: %v vs %v", i, c1[i], c2[i])
		}
	}
}

func TestParallelForCoversRangeAndNests(t *testing.T) {
	const n = 100003
	hits := make([]int32, n)
	ParallelFor(n, 1000, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			hits[i]++
		}
	})
	for i, h := range hits {
		if h != 1 {
			t.Fatalf("index %d visited %d times", i, h)
		}
	}
	// Nested parallel calls from inside pool tasks must not deadlock.
	total := make([]int, 64)
	ParallelTasks(64, func(i int) {
		ParallelFor(1000, 10, func(lo, hi int) {
			ParallelTasks(3, func(int) {})
		})
		total[i] = i
	})
	for i, v := range total {
		if v != i {
			t.Fatalf("task %d did not run", i)
		}
	}
}

func TestWalkBroadcastAndNegativeStrides(t *testing.T) {
	// dst[i,j] = src[1-i, j] (flip) with a broadcast second operand.
	shape := []int{2, 3}
	var got [][3]int
	Walk(shape, [][]int{{3, 1}, {-3, 1}, {0, 1}}, []int{0, 3, 0}, 1<<20, func(o []int, n int) {
		for i := 0; i < n; i++ {
			got = append(got, [3]int{o[0] + i, o[1] + i, o[2] + i})
		}
	})
	want := [][3]int{{0, 3, 0}, {1, 4, 1}, {2, 5, 2}, {3, 0, 0}, {4, 1, 1}, {5, 2, 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

// BenchmarkSgemm measures each available kernel on square and transformer
// shapes (all operands row-major, no transposes) and reports GFLOP/s. Run
// with -cpu 1,2 to see the scaling.
func BenchmarkSgemm(b *testing.B) {
	shapes := []struct{ m, n, k int }{
		{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
		{4096, 576, 192}, {4096, 192, 576},
	}
	saved := Kernel
	defer func() { Kernel = saved }()
	for _, kern := range kernels() {
		for _, s := range shapes {
			for tr := 0; tr < 4; tr++ {
				tA, tB := tr&1 != 0, tr&2 != 0
				name := fmt.Sprintf("%s/%dx%dx%d", kern.Name, s.m, s.n, s.k)
				if tA {
					name += "/TA"
				}
				if tB {
					name += "/TB"
				}
				b.Run(name, func(b *testing.B) {
					if kern.Name == GoKernel.Name && s.m*s.n*s.k > 512*512*512 {
						b.Skip("portable kernel: too slow")
					}
					Kernel = kern
					r := rand.New(rand.NewPCG(1, 1))
					a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
					lda, ldb := s.k, s.n
					if tA {
						lda = s.m
					}
					if tB {
						ldb = s.k
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkMicroKernel runs each kernel on one full tile with L1-resident
// operands: the ceiling the blocked GEMM can reach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, kern := range kernels() {
		for _, kc := range []int{128, 256, 384} {
			b.Run(fmt.Sprintf("%s/kc%d", kern.Name, kc), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a, bb := randSlice(r, kc*kern.MR), randSlice(r, kc*kern.NR)
				c := make([]float32, kern.MR*kern.NR)
				for i := 0; i < b.N; i++ {
					kern.Fn(kc, a, bb, c, kern.NR, kern.MR, kern.NR, 1)
				}
				b.ReportMetric(2*float64(kc*kern.MR*kern.NR)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
