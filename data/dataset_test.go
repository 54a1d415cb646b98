package data

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seq returns n examples of shape [2] holding (i, −i), labelled i % 3.
func seq(t *testing.T, n int) *InMemory {
	t.Helper()
	x := make([]float32, 2*n)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		x[2*i], x[2*i+1] = float32(i), -float32(i)
		labels[i] = i % 3
	}
	ds, err := NewInMemory(x, []int{2}, labels)
	require.NoError(t, err)
	return ds
}

func TestInMemoryItemIsACopy(t *testing.T) {
	ds := seq(t, 5)
	assert.Equal(t, 5, ds.Len())
	ex, err := ds.Item(3)
	require.NoError(t, err)
	assert.Equal(t, []float32{3, -3}, ex.Data)
	assert.Equal(t, []int{2}, ex.Shape)
	assert.Equal(t, 0, ex.Label)
	assert.Nil(t, ex.Target)
	ex.Data[0] = 99
	again, _ := ds.Item(3)
	assert.Equal(t, float32(3), again.Data[0], "changing an item's data must not change the dataset")

	_, err = ds.Item(5)
	assert.ErrorContains(t, err, "out of range")
	_, err = ds.Item(-1)
	assert.Error(t, err)
}

func TestInMemoryChecks(t *testing.T) {
	_, err := NewInMemory(make([]float32, 7), []int{2}, nil)
	assert.ErrorContains(t, err, "do not split")
	_, err = NewInMemory(make([]float32, 8), []int{2}, []int{1, 2})
	assert.ErrorContains(t, err, "4 examples")
	_, err = NewInMemory(make([]float32, 8), nil, nil)
	assert.ErrorContains(t, err, "empty example shape")
	_, err = NewInMemory(make([]float32, 8), []int{0, 2}, nil)
	assert.ErrorContains(t, err, "≤ 0")

	ds, err := NewInMemory(make([]float32, 8), []int{2, 2}, nil)
	require.NoError(t, err)
	ex, _ := ds.Item(1)
	assert.Equal(t, -1, ex.Label, "unlabelled data gets label -1")
}

func TestInMemoryTargets(t *testing.T) {
	x := []float32{1, 2, 3}
	y := []float32{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}
	ds, err := NewInMemoryTargets(x, []int{1}, y, []int{2, 2}, nil)
	require.NoError(t, err)
	ex, err := ds.Item(2)
	require.NoError(t, err)
	assert.Equal(t, []float32{18, 19, 20, 21}, ex.Target)
	assert.Equal(t, []int{2, 2}, ex.TargetShape)
	_, err = NewInMemoryTargets(x, []int{1}, y[:5], []int{2}, nil)
	assert.ErrorContains(t, err, "target values")
}

func TestSubset(t *testing.T) {
	ds := seq(t, 10)
	s, err := NewSubset(ds, []int{7, 2, 2})
	require.NoError(t, err)
	assert.Equal(t, 3, s.Len())
	ex, err := s.Item(0)
	require.NoError(t, err)
	assert.Equal(t, float32(7), ex.Data[0])
	_, err = s.Item(3)
	assert.ErrorContains(t, err, "out of range")
	_, err = NewSubset(ds, []int{1, 10})
	assert.ErrorContains(t, err, "index 10 (position 1)")
}

func TestRandomSplitIsSeededAndDisjoint(t *testing.T) {
	ds := seq(t, 100)
	a, err := RandomSplit(ds, []int{70, 20, 10}, 5)
	require.NoError(t, err)
	b, err := RandomSplit(ds, []int{70, 20, 10}, 5)
	require.NoError(t, err)
	c, err := RandomSplit(ds, []int{70, 20, 10}, 6)
	require.NoError(t, err)
	var all []int
	for k := range a {
		assert.Equal(t, a[k].Indices, b[k].Indices, "same seed, same split")
		all = append(all, a[k].Indices...)
	}
	assert.Equal(t, []int{70, 20, 10}, []int{a[0].Len(), a[1].Len(), a[2].Len()})
	assert.NotEqual(t, a[0].Indices, c[0].Indices, "another seed, another split")
	sort.Ints(all)
	for i, v := range all {
		require.Equal(t, i, v, "the parts must cover every index once")
	}
	// Appending to one part must not write into the next.
	first := slices.Clone(a[1].Indices)
	_ = append(a[0].Indices, -1)
	assert.Equal(t, first, a[1].Indices)

	_, err = RandomSplit(ds, []int{50, 40}, 1)
	assert.ErrorContains(t, err, "add up to 90")
	_, err = RandomSplit(ds, []int{110, -10}, 1)
	assert.ErrorContains(t, err, "negative")
}

func TestRandomSplitFractions(t *testing.T) {
	ds := seq(t, 11)
	parts, err := RandomSplitFractions(ds, []float64{0.5, 0.3, 0.2}, 1)
	require.NoError(t, err)
	// ⌊5.5⌋=5, ⌊3.3⌋=3, ⌊2.2⌋=2, and the one left over goes to the first.
	assert.Equal(t, []int{6, 3, 2}, []int{parts[0].Len(), parts[1].Len(), parts[2].Len()})
	_, err = RandomSplitFractions(ds, []float64{0.5, 0.4}, 1)
	assert.ErrorContains(t, err, "not 1")
	_, err = RandomSplitFractions(ds, []float64{1.5, -0.5}, 1)
	assert.ErrorContains(t, err, "not in [0, 1]")
}

func TestMixSeparatesNearbyInputs(t *testing.T) {
	seen := map[uint64]bool{}
	for s := uint64(0); s < 4; s++ {
		for e := uint64(0); e < 50; e++ {
			h := mix(s, orderSalt, e)
			require.False(t, seen[h], "collision at seed %d epoch %d", s, e)
			seen[h] = true
		}
	}
	assert.NotEqual(t, mix(1, 2, 3), mix(1, 3, 2))
}
