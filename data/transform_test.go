package data

import (
	"math"
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func image(c, h, w int) Example {
	x := make([]float32, c*h*w)
	for i := range x {
		x[i] = float32(i + 1)
	}
	return Example{Data: x, Shape: []int{c, h, w}, Label: 1}
}

func TestNormalize(t *testing.T) {
	ex := Example{Data: []float32{1, 3, 10, 20}, Shape: []int{2, 2}}
	out, err := Normalize([]float32{2, 10}, []float32{1, 5})(ex, nil)
	require.NoError(t, err)
	assert.Equal(t, []float32{-1, 1, 0, 2}, out.Data)

	ex = Example{Data: []float32{1, 3, 10, 20}, Shape: []int{1, 4}}
	out, err = Normalize([]float32{1}, []float32{2})(ex, nil)
	require.NoError(t, err)
	assert.Equal(t, []float32{0, 1, 4.5, 9.5}, out.Data)

	_, err = Normalize([]float32{1, 2, 3}, []float32{1, 1, 1})(ex, nil)
	assert.ErrorContains(t, err, "3 means")
	_, err = Normalize([]float32{1}, []float32{0})(ex, nil)
	assert.ErrorContains(t, err, "not positive")
	_, err = Normalize(nil, nil)(ex, nil)
	assert.Error(t, err)
}

func TestRandomCropShiftsWithZeroFill(t *testing.T) {
	// Find seeds giving each kind of shift and check the result against a
	// direct computation of the padded crop.
	src := image(2, 4, 5)
	shifts := map[[2]int]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		rng := autograd.NewRNG(seed)
		probe := autograd.NewRNG(seed)
		dy, dx := probe.IntN(5)-2, probe.IntN(5)-2
		shifts[[2]int{dy, dx}] = true
		out, err := RandomCrop(2)(src.Clone(), rng)
		require.NoError(t, err)
		require.Equal(t, src.Shape, out.Shape)
		for ch := 0; ch < 2; ch++ {
			for y := 0; y < 4; y++ {
				for x := 0; x < 5; x++ {
					want := float32(0)
					if sy, sx := y+dy, x+dx; sy >= 0 && sy < 4 && sx >= 0 && sx < 5 {
						want = src.Data[ch*20+sy*5+sx]
					}
					require.Equal(t, want, out.Data[ch*20+y*5+x], "seed %d shift (%d,%d) at (%d,%d,%d)", seed, dy, dx, ch, y, x)
				}
			}
		}
	}
	assert.Len(t, shifts, 25, "every shift in [−2, 2]² is drawn")

	out, err := RandomCrop(0)(src.Clone(), autograd.NewRNG(1))
	require.NoError(t, err)
	assert.Equal(t, src.Data, out.Data)
	_, err = RandomCrop(1)(Example{Data: make([]float32, 8), Shape: []int{2, 2, 1, 2}}, autograd.NewRNG(1))
	assert.ErrorContains(t, err, "not an image")
	_, err = RandomCrop(-1)(src, nil)
	assert.Error(t, err)
}

func TestRandomHorizontalFlip(t *testing.T) {
	src := image(1, 2, 3)
	out, err := RandomHorizontalFlip(1)(src.Clone(), autograd.NewRNG(1))
	require.NoError(t, err)
	assert.Equal(t, []float32{3, 2, 1, 6, 5, 4}, out.Data)
	out, err = RandomHorizontalFlip(0)(src.Clone(), autograd.NewRNG(1))
	require.NoError(t, err)
	assert.Equal(t, src.Data, out.Data)

	flips := 0
	for seed := uint64(0); seed < 400; seed++ {
		out, _ := RandomHorizontalFlip(0.5)(src.Clone(), autograd.NewRNG(seed))
		if out.Data[0] == 3 {
			flips++
		}
	}
	assert.InDelta(t, 200, flips, 40)
	_, err = RandomHorizontalFlip(2)(src, nil)
	assert.Error(t, err)
}

func TestMeanStd(t *testing.T) {
	// Two channels: channel 0 holds 0..7, channel 1 is constant 5.
	var x []float32
	for i := 0; i < 2; i++ {
		for j := 0; j < 4; j++ {
			x = append(x, float32(4*i+j))
		}
		x = append(x, 5, 5, 5, 5)
	}
	ds, err := NewInMemory(x, []int{2, 2, 2}, nil)
	require.NoError(t, err)
	mean, std, err := MeanStd(ds)
	require.NoError(t, err)
	assert.InDelta(t, 3.5, mean[0], 1e-6)
	assert.InDelta(t, math.Sqrt(5.25), std[0], 1e-6)
	assert.InDelta(t, 5, mean[1], 1e-6)
	assert.InDelta(t, 0, std[1], 1e-6)

	_, _, err = MeanStd(&failing{n: 3, bad: 1})
	assert.ErrorContains(t, err, "example 1")
}
