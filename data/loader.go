package data

import (
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/deepgo/deepgo/autograd"
)

// LoaderConfig configures a Loader. The zero value (apart from BatchSize)
// loads batches in dataset order on the caller's goroutine and keeps the
// last partial batch.
type LoaderConfig struct {
	// BatchSize is the number of examples per batch; it must be positive.
	BatchSize int
	// Shuffle draws a new order of the examples for every epoch from
	// (Seed, epoch); without it the order is the dataset's.
	Shuffle bool
	// Seed seeds the shuffle and the transforms' generators.
	Seed uint64
	// DropLast drops the last batch of an epoch when it is smaller than
	// BatchSize; by default it is kept.
	DropLast bool
	// Prefetch is the number of batches a background goroutine prepares
	// ahead of the caller; 0 loads each batch on the caller's goroutine
	// when Next asks for it.
	Prefetch int
	// Transforms are applied to every example, in order, before batching.
	// They share one generator per example, seeded from (Seed, epoch,
	// position in the epoch), so augmentations are reproducible and differ
	// from epoch to epoch.
	Transforms []Transform
	// Shards, when above 1, splits every epoch across that many processes
	// of a data-parallel run, as torch's DistributedSampler does: the
	// epoch's order is padded to a multiple of Shards by repeating its
	// first examples, and this loader yields every Shards-th example of
	// it, starting at position Shard. Every shard then has the same number
	// of batches, and batch k of all the shards together holds the examples
	// of batch k of the same loader unsharded with BatchSize·Shards (when
	// Shards divides the dataset's size), each with the augmentation it
	// gets there. 0 and 1 do not shard. Package dist sets these fields.
	Shards int
	// Shard is this loader's shard, in [0, Shards): the process's rank.
	Shard int
}

// Loader cuts a dataset into batches of tensors, epoch by epoch, as
// torch.utils.data.DataLoader. It holds the dataset and, per iterator, the
// epoch's order and the batches prefetched; never a copy of the data.
type Loader struct {
	ds  Dataset
	cfg LoaderConfig
}

// NewLoader returns a loader over ds. It checks the configuration and that
// the dataset is not empty.
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if ds == nil {
		return nil, fmt.Errorf("data: NewLoader: nil dataset")
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("data: NewLoader: BatchSize is %d; set it to a positive number such as 64", cfg.BatchSize)
	}
	if cfg.Prefetch < 0 {
		return nil, fmt.Errorf("data: NewLoader: Prefetch is %d; use 0 for none or a small positive number", cfg.Prefetch)
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("data: NewLoader: the dataset is empty")
	}
	if cfg.Shards < 0 || (cfg.Shards <= 1 && cfg.Shard != 0) || (cfg.Shards > 1 && (cfg.Shard < 0 || cfg.Shard >= cfg.Shards)) {
		return nil, fmt.Errorf("data: NewLoader: Shard %d of Shards %d; Shard must be in [0, Shards)", cfg.Shard, cfg.Shards)
	}
	l := &Loader{ds: ds, cfg: cfg}
	if cfg.DropLast && l.size() < cfg.BatchSize {
		return nil, fmt.Errorf("data: NewLoader: DropLast with BatchSize %d leaves no batch of a dataset of %d examples (%d per shard)", cfg.BatchSize, ds.Len(), l.size())
	}
	l.cfg.Transforms = slices.Clone(cfg.Transforms)
	return l, nil
}

// shards returns the number of shards (1 when not sharded).
func (l *Loader) shards() int { return max(l.cfg.Shards, 1) }

// size returns the number of examples in an epoch of this loader: the
// dataset's, or one shard's.
func (l *Loader) size() int {
	s := l.shards()
	return (l.ds.Len() + s - 1) / s
}

// position returns the position in the whole (padded) epoch of the
// example at position p of this loader's epoch.
func (l *Loader) position(p int) int { return p*l.shards() + l.cfg.Shard }

// Dataset returns the loader's dataset.
func (l *Loader) Dataset() Dataset { return l.ds }

// Config returns the loader's configuration.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// Len returns the number of batches in an epoch (of this loader's shard,
// when sharded).
func (l *Loader) Len() int {
	n, b := l.size(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the order in which epoch visits the dataset's indices:
// 0, 1, ..., n−1 without Shuffle, and a permutation drawn from
// (Seed, epoch) with it. A sharded loader returns its shard's part of that
// order (see LoaderConfig.Shards).
func (l *Loader) Order(epoch int) []int {
	n := l.ds.Len()
	var order []int
	if !l.cfg.Shuffle {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	} else {
		order = autograd.NewRNG(mix(l.cfg.Seed, orderSalt, uint64(epoch))).Perm(n)
	}
	if l.shards() == 1 {
		return order
	}
	shard := make([]int, l.size())
	for p := range shard {
		shard[p] = order[l.position(p)%n]
	}
	return shard
}

// Batch is a batch of examples stacked into tensors.
type Batch struct {
	// X holds the examples' features, of shape [size, example shape...].
	X *autograd.Tensor
	// Labels holds the examples' class labels (-1 for none).
	Labels []int
	// Y holds the examples' targets, of shape [size, target shape...],
	// when the dataset has targets; nil otherwise.
	Y *autograd.Tensor
	// Indices are the dataset indices of the examples.
	Indices []int
	// Epoch is the epoch the batch belongs to, and Index its position in
	// that epoch (0 for the first batch).
	Epoch, Index int
}

// Size returns the number of examples in the batch.
func (b *Batch) Size() int { return len(b.Labels) }

// Batch builds batch k (0 ≤ k < Len()) of epoch on the caller's goroutine.
func (l *Loader) Batch(epoch, k int) (*Batch, error) {
	if k < 0 || k >= l.Len() {
		return nil, fmt.Errorf("data: Loader.Batch: batch %d out of range [0, %d)", k, l.Len())
	}
	return l.build(l.Order(epoch), epoch, k)
}

func (l *Loader) build(order []int, epoch, k int) (*Batch, error) {
	lo := k * l.cfg.BatchSize
	hi := min(lo+l.cfg.BatchSize, len(order))
	size := hi - lo
	b := &Batch{Labels: make([]int, size), Indices: slices.Clone(order[lo:hi]), Epoch: epoch, Index: k}
	var xs, ys []float32
	var shape, tshape []int
	for j := 0; j < size; j++ {
		idx := order[lo+j]
		ex, err := l.ds.Item(idx)
		if err != nil {
			return nil, fmt.Errorf("data: epoch %d, batch %d: example %d: %w", epoch, k, idx, err)
		}
		if len(l.cfg.Transforms) > 0 {
			rng := autograd.NewRNG(mix(l.cfg.Seed, transformSalt, uint64(epoch), uint64(l.position(lo+j))))
			for _, tf := range l.cfg.Transforms {
				if ex, err = tf(ex, rng); err != nil {
					return nil, fmt.Errorf("data: epoch %d, batch %d: example %d: %w", epoch, k, idx, err)
				}
			}
		}
		if err := checkExample(ex); err != nil {
			return nil, fmt.Errorf("data: epoch %d, batch %d: example %d: %w", epoch, k, idx, err)
		}
		if j == 0 {
			shape = slices.Clone(ex.Shape)
			xs = make([]float32, size*len(ex.Data))
			if ex.Target != nil {
				tshape = targetShape(ex)
				ys = make([]float32, size*len(ex.Target))
			}
		} else {
			if !slices.Equal(ex.Shape, shape) {
				return nil, fmt.Errorf("data: epoch %d, batch %d: example %d has shape %v, the batch's first has %v; examples in a batch must have one shape", epoch, k, idx, ex.Shape, shape)
			}
			if (ex.Target == nil) != (ys == nil) || (ys != nil && !slices.Equal(targetShape(ex), tshape)) {
				return nil, fmt.Errorf("data: epoch %d, batch %d: example %d has target shape %v, the batch's first has %v", epoch, k, idx, targetShape(ex), tshape)
			}
		}
		copy(xs[j*len(ex.Data):], ex.Data)
		if ys != nil {
			copy(ys[j*len(ex.Target):], ex.Target)
		}
		b.Labels[j] = ex.Label
	}
	b.X = autograd.Wrap(xs, append([]int{size}, shape...)...)
	if ys != nil {
		b.Y = autograd.Wrap(ys, append([]int{size}, tshape...)...)
	}
	return b, nil
}

func targetShape(ex Example) []int {
	if ex.Target == nil {
		return nil
	}
	if ex.TargetShape == nil {
		return []int{len(ex.Target)}
	}
	return ex.TargetShape
}

func checkExample(ex Example) error {
	n := 1
	for _, d := range ex.Shape {
		n *= d
	}
	if len(ex.Shape) == 0 || n != len(ex.Data) {
		return fmt.Errorf("has %d values for shape %v", len(ex.Data), ex.Shape)
	}
	if ex.Target != nil && ex.TargetShape != nil {
		m := 1
		for _, d := range ex.TargetShape {
			m *= d
		}
		if m != len(ex.Target) {
			return fmt.Errorf("has %d target values for target shape %v", len(ex.Target), ex.TargetShape)
		}
	}
	return nil
}

// Iter returns an iterator over the batches of epoch, starting at batch
// start (0 for the whole epoch; a resumed run passes the batch it stopped
// at). With Prefetch set, a goroutine starts preparing batches at once;
// Close stops it. Use it as
//
//	it := loader.Iter(epoch, 0)
//	defer it.Close()
//	for it.Next() {
//		b := it.Batch()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
func (l *Loader) Iter(epoch, start int) *Iter {
	it := &Iter{l: l, epoch: epoch, next: max(start, 0), end: l.Len()}
	it.order = l.Order(epoch)
	if l.cfg.Prefetch > 0 && it.next < it.end {
		it.ch = make(chan result, l.cfg.Prefetch)
		it.done = make(chan struct{})
		go it.produce()
	}
	return it
}

type result struct {
	b     *Batch
	err   error
	panic any
	stack []byte
}

// Iter iterates over the batches of one epoch (see Loader.Iter). It is for
// one goroutine: call Next, Batch, Err and Close from the same one.
type Iter struct {
	l         *Loader
	epoch     int
	order     []int
	next, end int
	cur       *Batch
	err       error
	ch        chan result
	done      chan struct{}
	closeOnce sync.Once
	finished  bool
}

func (it *Iter) produce() {
	defer close(it.ch)
	for k := it.next; k < it.end; k++ {
		r := it.buildSafe(k)
		select {
		case it.ch <- r:
		case <-it.done:
			return
		}
		if r.err != nil || r.panic != nil {
			return
		}
	}
}

// buildSafe builds batch k, turning a panic (a programmer error in a
// dataset or transform) into a value that Next re-raises on the caller's
// goroutine, where it can be seen with its stack.
func (it *Iter) buildSafe(k int) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{panic: p, stack: debug.Stack()}
		}
	}()
	b, err := it.l.build(it.order, it.epoch, k)
	return result{b: b, err: err}
}

// Next advances to the next batch and reports whether there is one. It
// returns false at the end of the epoch and after an error (see Err).
// A panic in a dataset's Item or a transform on the prefetch goroutine is
// raised again here.
func (it *Iter) Next() bool {
	it.cur = nil
	if it.finished {
		return false
	}
	var r result
	if it.ch != nil {
		var ok bool
		if r, ok = <-it.ch; !ok {
			it.finished = true
			return false
		}
	} else {
		if it.next >= it.end {
			it.finished = true
			return false
		}
		b, err := it.l.build(it.order, it.epoch, it.next)
		r = result{b: b, err: err}
	}
	if r.panic != nil {
		it.Close()
		panic(fmt.Sprintf("%v\n\n[raised on the loader's prefetch goroutine]\n%s", r.panic, r.stack))
	}
	if r.err != nil {
		it.err = r.err
		it.finished = true
		it.Close()
		return false
	}
	it.next++
	it.cur = r.b
	return true
}

// Batch returns the current batch (after Next returned true).
func (it *Iter) Batch() *Batch { return it.cur }

// Err returns the first error met, if any.
func (it *Iter) Err() error { return it.err }

// Position returns the epoch and the index of the batch the next call to
// Next will return.
func (it *Iter) Position() (epoch, batch int) { return it.epoch, it.next }

// Close stops the prefetch goroutine and waits for it to exit, dropping
// any batches it prepared. It is safe to call more than once; Next returns
// false after it.
func (it *Iter) Close() {
	it.closeOnce.Do(func() {
		it.finished = true
		if it.ch != nil {
			close(it.done)
			for range it.ch {
			}
		}
	})
}
