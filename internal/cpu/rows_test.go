package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSoftmaxRowsGrad checks the many-rows softmax gradient against the
// definition in float64, for row lengths around the kernel's 16-, 64-
// and 1024-element steps.
func TestSoftmaxRowsGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 16, 17, 63, 64, 65, 192, 1023, 1024, 1025, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rows := 3
			g := randSlice(r, rows*n)
			y := make([]float32, rows*n)
			for i := 0; i < rows; i++ {
				SoftmaxRow(y[i*n:(i+1)*n], randSlice(r, n), false)
			}
			dx := make([]float32, rows*n+1)
			dx[rows*n] = 42
			SoftmaxRowsGrad(dx[:rows*n], g, y, rows, n)
			if dx[rows*n] != 42 {
				t.Fatal("wrote past the last row")
			}
			for i := 0; i < rows; i++ {
				var d float64
				for j := 0; j < n; j++ {
					d += float64(g[i*n+j]) * float64(y[i*n+j])
				}
				for j := 0; j < n; j++ {
					want := float64(y[i*n+j]) * (float64(g[i*n+j]) - d)
					if got := float64(dx[i*n+j]); math.Abs(got-want) > 1e-6+1e-5*math.Abs(want) {
						t.Fatalf("row %d: dx[%d] = %v, want %v", i, j, got, want)
					}
				}
			}
		})
	}
}
