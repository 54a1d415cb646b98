package cuda

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

func TestProfile(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		g := dev.(*GPU)
		_, err := g.StopProfile()
		require.ErrorContains(t, err, "no profile is running")
		a := autograd.NewRNG(1).Normal(0, 1, 64, 32).To(dev)
		b := autograd.NewRNG(2).Normal(0, 1, 32, 16).To(dev)
		require.NoError(t, g.StartProfile())
		require.ErrorContains(t, g.StartProfile(), "already running")
		for i := 0; i < 3; i++ {
			a.MatMul(b).Relu().Sum().Data()
		}
		p, err := g.StopProfile()
		require.NoError(t, err)
		names := map[string]int{}
		total := 0
		for _, e := range p.Entries {
			names[e.Name] = e.Calls
			total += e.Calls
			assert.GreaterOrEqual(t, int64(e.Time), int64(0), e.Name)
		}
		assert.Equal(t, 3, names["sgemm NN m=16 n=64 k=32 batch=1"], "the product, in cuBLAS's column-major terms: %v", names)
		kernels := 0
		for n := range names {
			if strings.HasPrefix(n, "dg_") {
				kernels++
			}
		}
		assert.Positive(t, kernels, "kernels are named: %v", names)
		assert.Equal(t, total, p.Calls)
		assert.Positive(t, p.Wall)
		s := p.String()
		assert.Contains(t, s, "GPU busy")
		assert.Contains(t, s, "sgemm NN")
		// Profiling is off again: nothing is recorded, and a new profile
		// starts from zero.
		a.MatMul(b).Data()
		require.NoError(t, g.StartProfile())
		p, err = g.StopProfile()
		require.NoError(t, err)
		assert.Zero(t, p.Calls)
	})
}

func TestAllocUninit(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		g := dev.(*GPU)
		var _ autograd.UninitAllocator = g
		old := poisonUninit
		defer func() { poisonUninit = old }()
		poisonUninit = true
		b := g.AllocUninit(5)
		got := make([]float32, 5)
		g.ToHost(got, b)
		for i, v := range got {
			assert.True(t, v != v, "poisoned storage at %d is NaN, got %v", i, v)
		}
		// Without the poison nothing is queued: the profile sees no fill.
		poisonUninit = false
		require.NoError(t, g.StartProfile())
		g.AllocUninit(1 << 12)
		p, err := g.StopProfile()
		require.NoError(t, err)
		assert.Zero(t, p.Calls)
		// Ops on the device allocate their results this way.
		x := autograd.NewRNG(1).Normal(0, 1, 8, 8).To(dev)
		require.NoError(t, g.StartProfile())
		x.Exp()
		p, err = g.StopProfile()
		require.NoError(t, err)
		for _, e := range p.Entries {
			assert.NotEqual(t, "cuMemsetD32Async", e.Name, "an elementwise op clears nothing")
		}
	})
}
