package data

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newLoader(t *testing.T, ds Dataset, cfg LoaderConfig) *Loader {
	t.Helper()
	l, err := NewLoader(ds, cfg)
	require.NoError(t, err)
	return l
}

// collect returns every batch of an epoch from batch start on.
func collect(t *testing.T, l *Loader, epoch, start int) []*Batch {
	t.Helper()
	it := l.Iter(epoch, start)
	defer it.Close()
	var out []*Batch
	for it.Next() {
		out = append(out, it.Batch())
	}
	require.NoError(t, it.Err())
	return out
}

func TestLoaderBatchesInOrder(t *testing.T) {
	ds := seq(t, 10)
	l := newLoader(t, ds, LoaderConfig{BatchSize: 4})
	assert.Equal(t, 3, l.Len())
	bs := collect(t, l, 0, 0)
	require.Len(t, bs, 3)
	assert.Equal(t, []int{4, 2}, bs[0].X.Shape())
	assert.Equal(t, []float32{0, 0, 1, -1, 2, -2, 3, -3}, bs[0].X.Data())
	assert.Equal(t, []int{0, 1, 2, 0}, bs[0].Labels)
	assert.Equal(t, []int{0, 1, 2, 3}, bs[0].Indices)
	assert.Nil(t, bs[0].Y)
	assert.Equal(t, 2, bs[2].Size(), "the last partial batch is kept")
	assert.Equal(t, []int{8, 9}, bs[2].Indices)
	assert.Equal(t, 2, bs[2].Index)
	assert.False(t, bs[0].X.RequiresGrad())

	l = newLoader(t, ds, LoaderConfig{BatchSize: 4, DropLast: true})
	assert.Equal(t, 2, l.Len())
	bs = collect(t, l, 0, 0)
	require.Len(t, bs, 2)
	assert.Equal(t, 4, bs[1].Size())
}

func TestLoaderConfigErrors(t *testing.T) {
	ds := seq(t, 3)
	_, err := NewLoader(ds, LoaderConfig{})
	assert.ErrorContains(t, err, "BatchSize")
	_, err = NewLoader(ds, LoaderConfig{BatchSize: 1, Prefetch: -1})
	assert.ErrorContains(t, err, "Prefetch")
	_, err = NewLoader(ds, LoaderConfig{BatchSize: 4, DropLast: true})
	assert.ErrorContains(t, err, "leaves no batch")
	_, err = NewLoader(nil, LoaderConfig{BatchSize: 1})
	assert.Error(t, err)
	empty, _ := NewSubset(ds, nil)
	_, err = NewLoader(empty, LoaderConfig{BatchSize: 1})
	assert.ErrorContains(t, err, "empty")
}

func TestLoaderShuffleIsSeededPerEpoch(t *testing.T) {
	ds := seq(t, 50)
	l := newLoader(t, ds, LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 3})
	same := newLoader(t, ds, LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 3})
	other := newLoader(t, ds, LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 4})
	assert.Equal(t, l.Order(0), same.Order(0))
	assert.Equal(t, l.Order(7), same.Order(7))
	assert.NotEqual(t, l.Order(0), l.Order(1), "each epoch has its own order")
	assert.NotEqual(t, l.Order(0), other.Order(0), "each seed has its own order")

	// Every index once per epoch.
	seen := make([]int, 50)
	for _, b := range collect(t, l, 2, 0) {
		for _, i := range b.Indices {
			seen[i]++
		}
		// The data follows the indices.
		for j, i := range b.Indices {
			assert.Equal(t, float32(i), b.X.At(j, 0))
			assert.Equal(t, i%3, b.Labels[j])
		}
	}
	for i, c := range seen {
		assert.Equal(t, 1, c, "index %d", i)
	}
}

func TestIterFromAStartBatchResumesTheEpoch(t *testing.T) {
	ds := seq(t, 37)
	for _, prefetch := range []int{0, 3} {
		l := newLoader(t, ds, LoaderConfig{BatchSize: 5, Shuffle: true, Seed: 9, Prefetch: prefetch,
			Transforms: []Transform{jitter}})
		full := collect(t, l, 4, 0)
		tail := collect(t, l, 4, 3)
		require.Len(t, tail, len(full)-3)
		for k := range tail {
			assert.Equal(t, full[k+3].Indices, tail[k].Indices)
			assert.Equal(t, full[k+3].X.Data(), tail[k].X.Data(), "augmentations depend on the position, not on where iteration started")
			assert.Equal(t, k+3, tail[k].Index)
		}
		b, err := l.Batch(4, 5)
		require.NoError(t, err)
		assert.Equal(t, full[5].X.Data(), b.X.Data())
		_, err = l.Batch(4, 8)
		assert.Error(t, err)
		assert.Empty(t, collect(t, l, 4, 99))
	}
}

// jitter adds a seeded random value to every element.
func jitter(ex Example, rng *autograd.RNG) (Example, error) {
	for i := range ex.Data {
		ex.Data[i] += rng.Float32()
	}
	return ex, nil
}

func TestPrefetchGivesTheSameBatches(t *testing.T) {
	ds := seq(t, 23)
	sync := newLoader(t, ds, LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 1, Transforms: []Transform{jitter}})
	pre := newLoader(t, ds, LoaderConfig{BatchSize: 4, Shuffle: true, Seed: 1, Prefetch: 2, Transforms: []Transform{jitter}})
	a, b := collect(t, sync, 1, 0), collect(t, pre, 1, 0)
	require.Equal(t, len(a), len(b))
	for k := range a {
		assert.Equal(t, a[k].X.Data(), b[k].X.Data())
		assert.Equal(t, a[k].Labels, b[k].Labels)
	}
	// Transforms differ between epochs.
	c := collect(t, sync, 2, 0)
	assert.NotEqual(t, a[0].X.Data(), c[0].X.Data())
}

// failing is a dataset whose Item fails (or panics) at one index and
// counts its calls.
type failing struct {
	n, bad int
	panics bool
	calls  atomic.Int64
}

func (f *failing) Len() int { return f.n }
func (f *failing) Item(i int) (Example, error) {
	f.calls.Add(1)
	if i == f.bad {
		if f.panics {
			panic(fmt.Sprintf("boom at %d", i))
		}
		return Example{}, errors.New("disk on fire")
	}
	return Example{Data: []float32{float32(i)}, Shape: []int{1}, Label: 0}, nil
}

func TestLoaderErrorsPropagate(t *testing.T) {
	for _, prefetch := range []int{0, 2} {
		ds := &failing{n: 20, bad: 9}
		l := newLoader(t, ds, LoaderConfig{BatchSize: 4, Prefetch: prefetch})
		it := l.Iter(0, 0)
		n := 0
		for it.Next() {
			n++
		}
		assert.Equal(t, 2, n, "the batches before the failing one arrive")
		require.Error(t, it.Err())
		assert.ErrorContains(t, it.Err(), "disk on fire")
		assert.ErrorContains(t, it.Err(), "epoch 0, batch 2: example 9")
		assert.False(t, it.Next(), "no batch after an error")
		it.Close()
	}
}

func TestLoaderPanicsAreRaisedOnTheCallersGoroutine(t *testing.T) {
	ds := &failing{n: 20, bad: 5, panics: true}
	l := newLoader(t, ds, LoaderConfig{BatchSize: 4, Prefetch: 2})
	it := l.Iter(0, 0)
	require.True(t, it.Next())
	defer func() {
		p := recover()
		require.NotNil(t, p)
		assert.Contains(t, fmt.Sprint(p), "boom at 5")
		assert.Contains(t, fmt.Sprint(p), "prefetch goroutine")
	}()
	it.Next()
	t.Fatal("Next did not panic")
}

func TestCloseStopsThePrefetchGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := &failing{n: 10000, bad: -1}
	l := newLoader(t, ds, LoaderConfig{BatchSize: 10, Prefetch: 3})
	for range 20 {
		it := l.Iter(0, 0)
		require.True(t, it.Next())
		it.Close()
		it.Close() // twice is fine
		assert.False(t, it.Next())
	}
	// The prefetcher stops after at most Prefetch+2 batches beyond the one read.
	assert.Less(t, ds.calls.Load(), int64(20*10*6))
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "prefetch goroutines left running")
}

func TestLoaderChecksExampleShapes(t *testing.T) {
	ds := &shapes{}
	l := newLoader(t, ds, LoaderConfig{BatchSize: 2})
	it := l.Iter(0, 0)
	assert.False(t, it.Next())
	assert.ErrorContains(t, it.Err(), "example 1 has shape [3]")

	bad := &InMemory{x: []float32{1, 2}, shape: []int{3}, size: 2, n: 1}
	l = newLoader(t, bad, LoaderConfig{BatchSize: 1})
	_, err := l.Batch(0, 0)
	assert.ErrorContains(t, err, "has 2 values for shape [3]")
}

type shapes struct{}

func (shapes) Len() int { return 2 }
func (shapes) Item(i int) (Example, error) {
	return Example{Data: make([]float32, 2+i), Shape: []int{2 + i}}, nil
}

func TestLoaderStacksTargets(t *testing.T) {
	x := []float32{1, 2, 3}
	y := []float32{1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}
	ds, err := NewInMemoryTargets(x, []int{1}, y, []int{2, 2}, []int{0, 1, 0})
	require.NoError(t, err)
	l := newLoader(t, ds, LoaderConfig{BatchSize: 2})
	bs := collect(t, l, 0, 0)
	require.NotNil(t, bs[0].Y)
	assert.Equal(t, []int{2, 2, 2}, bs[0].Y.Shape())
	assert.Equal(t, y[:8], bs[0].Y.Data())
	assert.Equal(t, []int{1, 2, 2}, bs[1].Y.Shape())
}

func TestIterPosition(t *testing.T) {
	l := newLoader(t, seq(t, 10), LoaderConfig{BatchSize: 3})
	it := l.Iter(2, 1)
	defer it.Close()
	e, k := it.Position()
	assert.Equal(t, [2]int{2, 1}, [2]int{e, k})
	require.True(t, it.Next())
	_, k = it.Position()
	assert.Equal(t, 2, k)
}

func TestLoaderShardsSplitTheEpoch(t *testing.T) {
	ds := seq(t, 48)
	// A transform that draws from its generator, to check that each
	// example gets the augmentation it gets in the unsharded loader.
	noise := func(ex Example, rng *autograd.RNG) (Example, error) {
		ex.Data[1] += rng.Float32()
		return ex, nil
	}
	cfg := LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 5, Transforms: []Transform{noise}}
	whole := cfg
	whole.BatchSize = 24
	lw := newLoader(t, ds, whole)
	var shards []*Loader
	for r := range 3 {
		c := cfg
		c.Shards, c.Shard = 3, r
		shards = append(shards, newLoader(t, ds, c))
		assert.Equal(t, lw.Len(), shards[r].Len())
	}
	for epoch := range 2 {
		want := collect(t, lw, epoch, 0)
		got := [][]*Batch{collect(t, shards[0], epoch, 0), collect(t, shards[1], epoch, 0), collect(t, shards[2], epoch, 0)}
		for k, wb := range want {
			// Batch k of shard r holds the positions r, r+3, ... of the
			// whole loader's batch k.
			wx := wb.X.Data()
			for r := range 3 {
				b := got[r][k]
				require.Equal(t, 8, b.Size())
				gx := b.X.Data()
				for j := range 8 {
					p := 3*j + r
					assert.Equal(t, wb.Indices[p], b.Indices[j], "epoch %d batch %d shard %d example %d", epoch, k, r, j)
					assert.Equal(t, wx[2*p:2*p+2], gx[2*j:2*j+2], "augmentation of epoch %d batch %d shard %d example %d", epoch, k, r, j)
				}
			}
		}
	}
}

func TestLoaderShardsPadTheLastBatch(t *testing.T) {
	ds := seq(t, 10)
	var seen []int
	for r := range 4 {
		l := newLoader(t, ds, LoaderConfig{BatchSize: 2, Shards: 4, Shard: r})
		assert.Equal(t, 2, l.Len(), "every shard has ceil(10/4) = 3 examples, in 2 batches")
		order := l.Order(0)
		require.Len(t, order, 3)
		seen = append(seen, order...)
		bs := collect(t, l, 0, 0)
		require.Len(t, bs, 2)
		assert.Equal(t, 1, bs[1].Size())
	}
	// 12 positions: the 10 examples, then the first two again.
	count := map[int]int{}
	for _, i := range seen {
		count[i]++
	}
	assert.Len(t, count, 10)
	assert.Equal(t, 2, count[0])
	assert.Equal(t, 2, count[1])

	l := newLoader(t, ds, LoaderConfig{BatchSize: 2, DropLast: true, Shards: 4, Shard: 3})
	assert.Equal(t, 1, l.Len())
	_, err := NewLoader(ds, LoaderConfig{BatchSize: 4, DropLast: true, Shards: 4})
	assert.ErrorContains(t, err, "leaves no batch")
	for _, c := range [][2]int{{2, 2}, {2, -1}, {0, 1}, {-1, 0}} {
		_, err := NewLoader(ds, LoaderConfig{BatchSize: 1, Shards: c[0], Shard: c[1]})
		assert.ErrorContains(t, err, "Shard", "Shards %d Shard %d", c[0], c[1])
	}
}
