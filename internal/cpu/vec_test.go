package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestVecHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for n := 0; n < 80; n++ {
		x, y := randSlice(r, n+3), randSlice(r, n+3)
		want := append([]float32(nil), y...)
		var dot float64
		for i := 0; i < n; i++ {
			want[i] += 0.7 * x[i]
			dot += float64(x[i]) * float64(y[i])
		}
		got := convDot(x[:n], y[:n])
		if math.Abs(float64(got)-dot) > 1e-5*math.Max(1, math.Abs(dot)) {
			t.Fatalf("n=%d: dot %v, want %v", n, got, dot)
		}
		convAxpy(0.7, x[:n], y[:n])
		for i := range y {
			if math.Abs(float64(y[i]-want[i])) > 1e-6 {
				t.Fatalf("n=%d: axpy y[%d] = %v, want %v (the tail past n must not change)", n, i, y[i], want[i])
			}
		}
	}
}
