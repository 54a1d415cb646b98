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
