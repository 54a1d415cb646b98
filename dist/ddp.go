package dist

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/train"
)

// DefaultBucketBytes is the size of the gradient buckets when
// DataParallelOptions.BucketBytes is zero: 25 MiB, torch's default.
const DefaultBucketBytes = 25 << 20

// DataParallelOptions configures NewDataParallel.
type DataParallelOptions struct {
	// BucketBytes is about how many bytes of gradients go into one
	// all-reduce: AllReduceGradients packs the gradients, in reverse
	// parameter order, into flat buckets of about this size (a larger
	// tensor gets a bucket of its own) and all-reduces each with one call,
	// packing the next and unpacking the last while one is on the wire.
	// Zero means DefaultBucketBytes.
	BucketBytes int
	// LocalBuffers keeps each rank's buffers (BatchNorm's running
	// statistics) as its own training makes them. By default rank 0's are
	// copied to every rank after every step, as torch's
	// DistributedDataParallel does, so that every replica evaluates alike.
	LocalBuffers bool
}

// DataParallel trains the replica of a model held by this rank in step with
// the replicas of the other ranks of a Comm. It implements train.Parallel;
// see the package documentation for a complete set-up. Its methods are
// collective (every rank calls them in the same order) and are for the
// goroutine that runs the training loop.
type DataParallel struct {
	comm    Comm
	opts    DataParallelOptions
	params  []nn.NamedParameter
	buffers []nn.NamedBuffer
	known   map[*nn.Parameter]bool
	buckets []*bucket
	stats   Stats
}

// Stats counts what AllReduceGradients did.
type Stats struct {
	// Calls is the number of AllReduceGradients calls (training steps).
	Calls int
	// Time is the wall time they took together: packing, the
	// all-reduces, unpacking, and the wait for the slowest rank to reach
	// its all-reduce, which is most of it when the ranks' steps take
	// unequal times.
	Time time.Duration
	// Values is the number of gradient values all-reduced per call, and
	// Buckets the number of all-reduce calls they take.
	Values, Buckets int
}

// bucket is a group of parameters whose gradients are all-reduced as one
// flat buffer: the gradients one after the other, then one flag per
// parameter that says whether the rank had a gradient for it.
type bucket struct {
	params []*nn.Parameter
	offs   []int // offs[i] is where params[i]'s gradient starts in flat
	values int   // the number of gradient values, where the flags start
	flat   []float32
}

// NewDataParallel prepares the model (a pointer to its struct, as the nn
// package walks it) for data-parallel training over c. It is collective:
// every rank calls it with its own replica of the same model. It checks
// that the replicas have the same parameters and buffers, by name and
// shape, on every rank, returning an error on every rank when they do not,
// and then copies rank 0's parameters and buffers to every other rank, so
// that training starts from rank 0's initialisation.
func NewDataParallel(c Comm, model any, opts DataParallelOptions) (*DataParallel, error) {
	if opts.BucketBytes < 0 {
		return nil, fmt.Errorf("dist: NewDataParallel: BucketBytes is %d; use 0 for the default or a positive size", opts.BucketBytes)
	}
	if opts.BucketBytes == 0 {
		opts.BucketBytes = DefaultBucketBytes
	}
	d := &DataParallel{
		comm:    c,
		opts:    opts,
		params:  nn.NamedParameters(model),
		buffers: nn.NamedBuffers(model),
		known:   map[*nn.Parameter]bool{},
	}
	if len(d.params) == 0 {
		return nil, errors.New("dist: NewDataParallel: the model has no parameters; pass a pointer to the model's struct")
	}
	for _, p := range d.params {
		d.known[p.Param] = true
	}
	if err := d.checkReplicas(); err != nil {
		return nil, err
	}
	if err := d.BroadcastParameters(); err != nil {
		return nil, err
	}
	d.makeBuckets()
	return d, nil
}

// Comm returns the communicator.
func (d *DataParallel) Comm() Comm { return d.comm }

// Stats returns what AllReduceGradients did so far.
func (d *DataParallel) Stats() Stats { return d.stats }

// makeBuckets lays the trainable parameters out in buckets, in reverse
// order: the order in which the backward pass finishes their gradients.
func (d *DataParallel) makeBuckets() {
	limit := max(d.opts.BucketBytes/4, 1)
	var cur *bucket
	for i := len(d.params) - 1; i >= 0; i-- {
		p := d.params[i].Param
		if !p.RequiresGrad() {
			continue
		}
		n := p.Numel()
		if cur == nil || (cur.values > 0 && cur.values+n > limit) {
			cur = &bucket{}
			d.buckets = append(d.buckets, cur)
		}
		cur.params = append(cur.params, p)
		cur.offs = append(cur.offs, cur.values)
		cur.values += n
	}
	for _, b := range d.buckets {
		b.flat = make([]float32, b.values+len(b.params))
		d.stats.Values += b.values
	}
	d.stats.Buckets = len(d.buckets)
}

// pack copies the gradients into the bucket, zeros and a zero flag for a
// parameter without one.
func (b *bucket) pack() {
	for i, p := range b.params {
		dst := b.flat[b.offs[i] : b.offs[i]+p.Numel()]
		if p.Grad == nil {
			clear(dst)
			b.flat[b.values+i] = 0
			continue
		}
		read(p.Grad, dst)
		b.flat[b.values+i] = 1
	}
}

// unpack sets the gradients to the summed bucket divided by n, the number
// of ranks. A parameter that no rank had a gradient for keeps none, so that
// optimizers skip it as they do in one process.
func (b *bucket) unpack(n int) {
	s := float32(n)
	for i, p := range b.params {
		if b.flat[b.values+i] == 0 {
			continue
		}
		src := b.flat[b.offs[i] : b.offs[i]+p.Numel()]
		for j := range src {
			src[j] /= s
		}
		if p.Grad == nil {
			g := autograd.New(src, p.Shape()...)
			if p.Device() != g.Device() {
				g = g.To(p.Device())
			}
			p.Grad = g
			continue
		}
		write(p.Grad, src)
	}
}

// AllReduceGradients replaces the gradient of every trainable parameter
// by its mean over the ranks, as train.Parallel asks: params must be the
// model's (nn.Parameters of the model given to NewDataParallel). A
// parameter without a gradient on some ranks counts as a zero gradient
// there; one without a gradient on every rank keeps none. Unless
// LocalBuffers is set, rank 0's buffers are then copied to every rank.
func (d *DataParallel) AllReduceGradients(params []*nn.Parameter) error {
	if len(params) != len(d.params) {
		return fmt.Errorf("dist: AllReduceGradients: %d parameters given, the model given to NewDataParallel has %d; give the Trainer the same model", len(params), len(d.params))
	}
	for i, p := range params {
		if !d.known[p] {
			return fmt.Errorf("dist: AllReduceGradients: parameter %d is not one of the model given to NewDataParallel; give the Trainer the same model", i)
		}
	}
	start := time.Now()
	defer func() {
		d.stats.Calls++
		d.stats.Time += time.Since(start)
	}()
	n := d.comm.Size()
	if n == 1 {
		return nil // the mean over one rank
	}
	// Pack the buckets on this goroutine while another all-reduces the
	// packed ones; unpack each as soon as it is back.
	packed := make(chan *bucket, len(d.buckets))
	done := make(chan error, len(d.buckets))
	go func() {
		for b := range packed {
			done <- d.comm.AllReduce(b.flat, Sum)
		}
	}()
	for _, b := range d.buckets {
		b.pack()
		packed <- b
	}
	close(packed)
	var first error
	for _, b := range d.buckets {
		if err := <-done; err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if first == nil {
			b.unpack(n)
		}
	}
	if first != nil {
		return first
	}
	if !d.opts.LocalBuffers && len(d.buffers) > 0 {
		return d.SyncBuffers()
	}
	return nil
}

// AllReduceSums replaces every value of sums by its sum over the ranks, as
// train.Parallel asks. The values travel exactly (each float64 as four
// 16-bit pieces through AllGather) and are added in rank order, so every
// rank gets the same float64 sums.
func (d *DataParallel) AllReduceSums(sums []float64) error {
	n := d.comm.Size()
	if n == 1 || len(sums) == 0 {
		return nil
	}
	send := make([]float32, 0, 4*len(sums))
	for _, v := range sums {
		send = appendUint64(send, math.Float64bits(v))
	}
	recv := make([]float32, n*len(send))
	if err := d.comm.AllGather(send, recv); err != nil {
		return err
	}
	clear(sums)
	for r := range n {
		part := recv[r*len(send) : (r+1)*len(send)]
		for i := range sums {
			sums[i] += math.Float64frombits(readUint64(part[4*i:]))
		}
	}
	return nil
}

// BroadcastParameters copies rank 0's parameters and buffers to every
// rank. NewDataParallel does it; call it again after changing the
// parameters on rank 0 alone (loading weights there, say).
func (d *DataParallel) BroadcastParameters() error {
	ts := make([]*autograd.Tensor, 0, len(d.params)+len(d.buffers))
	for _, p := range d.params {
		ts = append(ts, p.Param.Tensor)
	}
	for _, b := range d.buffers {
		ts = append(ts, b.Buffer.Tensor)
	}
	return d.broadcast(ts)
}

// SyncBuffers copies rank 0's buffers (BatchNorm's running statistics)
// to every rank.
func (d *DataParallel) SyncBuffers() error {
	ts := make([]*autograd.Tensor, len(d.buffers))
	for i, b := range d.buffers {
		ts[i] = b.Buffer.Tensor
	}
	return d.broadcast(ts)
}

// broadcast copies rank 0's ts to every rank, packed into flat buffers of
// about BucketBytes.
func (d *DataParallel) broadcast(ts []*autograd.Tensor) error {
	if d.comm.Size() == 1 {
		return nil
	}
	limit := max(d.opts.BucketBytes/4, 1)
	root := d.comm.Rank() == 0
	for lo := 0; lo < len(ts); {
		hi, n := lo, 0
		for hi < len(ts) && (n == 0 || n+ts[hi].Numel() <= limit) {
			n += ts[hi].Numel()
			hi++
		}
		flat := make([]float32, n)
		if root {
			off := 0
			for _, t := range ts[lo:hi] {
				read(t, flat[off:off+t.Numel()])
				off += t.Numel()
			}
		}
		if err := d.comm.Broadcast(flat, 0); err != nil {
			return err
		}
		if !root {
			off := 0
			for _, t := range ts[lo:hi] {
				write(t, flat[off:off+t.Numel()])
				off += t.Numel()
			}
		}
		lo = hi
	}
	return nil
}

// CheckInSync compares the parameters and buffers of every rank, bit for
// bit, and returns an error on every rank when some rank's differ from rank
// 0's. Data-parallel training keeps them equal; this is a check for tests
// and for the end of a run.
func (d *DataParallel) CheckInSync() error {
	h := fnv.New64a()
	var b [4]byte
	add := func(t *autograd.Tensor) {
		vals := make([]float32, t.Numel())
		read(t, vals)
		for _, v := range vals {
			u := math.Float32bits(v)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	for _, p := range d.params {
		add(p.Param.Tensor)
	}
	for _, bf := range d.buffers {
		add(bf.Buffer.Tensor)
	}
	send := appendUint64(nil, h.Sum64())
	recv := make([]float32, 4*d.comm.Size())
	if err := d.comm.AllGather(send, recv); err != nil {
		return err
	}
	var off []int
	for r := 1; r < d.comm.Size(); r++ {
		if !slices.Equal(recv[4*r:4*r+4], recv[:4]) {
			off = append(off, r)
		}
	}
	if len(off) > 0 {
		return fmt.Errorf("dist: rank %d of %d: the parameters of ranks %v differ from rank 0's", d.comm.Rank(), d.comm.Size(), off)
	}
	return nil
}

// Setup makes tr train data-parallel with d: it sets tr.Parallel, and on
// every rank but 0 clears tr.Dir and silences tr.Out and tr.Progress, so
// that rank 0 alone writes checkpoints and metrics and prints progress.
// It checks that tr.Model is the model given to NewDataParallel and that
// tr.Train is sharded across the ranks (see Shard). Rank 0's progress line
// shows its own running loss between evaluations; the metrics recorded at
// evaluations are averaged over the ranks.
func (d *DataParallel) Setup(tr *train.Trainer) error {
	ps := nn.Parameters(tr.Model)
	if len(ps) != len(d.params) || slices.ContainsFunc(ps, func(p *nn.Parameter) bool { return !d.known[p] }) {
		return errors.New("dist: Setup: the Trainer's Model is not the model given to NewDataParallel")
	}
	if tr.Train != nil && d.comm.Size() > 1 {
		cfg := tr.Train.Config()
		if cfg.Shards != d.comm.Size() || cfg.Shard != d.comm.Rank() {
			return fmt.Errorf("dist: Setup: the training loader has Shards %d and Shard %d, but this is rank %d of %d; build it with dist.Shard(cfg, comm) so that each rank trains on its own part of every epoch", cfg.Shards, cfg.Shard, d.comm.Rank(), d.comm.Size())
		}
	}
	tr.Parallel = d
	if d.comm.Rank() != 0 {
		tr.Dir = ""
		tr.Out = io.Discard
		tr.Progress = train.ProgressOff
	}
	return nil
}

// DecorrelateRNGs wraps a StepFunc so that the generators the model draws
// from while training (Dropout's, the Trainer's RNGs) differ between
// ranks: before each call, on every rank but 0, it reseeds each generator
// from its next value and the rank. A Trainer reseeds its RNGs from (Seed,
// step) before every step, the same on every rank, which would give every
// rank the same dropout masks; with the wrapper rank 0 draws as a single
// process would, the others draw their own, and a resumed run still draws
// the same numbers.
func (d *DataParallel) DecorrelateRNGs(step train.StepFunc, rngs ...*autograd.RNG) train.StepFunc {
	rank := uint64(d.comm.Rank())
	if rank == 0 {
		return step
	}
	return func(b *data.Batch) train.Output {
		for _, r := range rngs {
			*r = *autograd.NewRNG(r.Uint64() ^ (rank * 0x9e3779b97f4a7c15))
		}
		return step(b)
	}
}

// Shard returns cfg set up to give the rank of c its own part of every
// epoch (see data.LoaderConfig.Shards): every rank gets the same number of
// batches, and with the same Seed on every rank the ranks' batches k
// together hold batch k of one process's loader with c.Size() times the
// BatchSize.
func Shard(cfg data.LoaderConfig, c Comm) data.LoaderConfig {
	cfg.Shards, cfg.Shard = c.Size(), c.Rank()
	if cfg.Shards == 1 {
		cfg.Shards = 0
	}
	return cfg
}

// checkReplicas compares the model's parameters and buffers (names,
// shapes, whether they train) with every other rank's, and returns an
// error on every rank when they differ.
func (d *DataParallel) checkReplicas() error {
	desc := d.describe()
	values := 0
	for _, p := range d.params {
		values += p.Param.Numel()
	}
	h := fnv.New64a()
	h.Write([]byte(strings.Join(desc, "\n")))
	// The summary, 16-bit pieces in float32s: hash, tensors, values.
	send := appendUint64(nil, h.Sum64())
	send = appendUint64(send, uint64(len(d.params)))
	send = appendUint64(send, uint64(values))
	n, rank := d.comm.Size(), d.comm.Rank()
	if n == 1 {
		return nil
	}
	recv := make([]float32, n*len(send))
	if err := d.comm.AllGather(send, recv); err != nil {
		return err
	}
	summary := func(r int) (hash, tensors, values uint64) {
		s := recv[r*len(send):]
		return readUint64(s), readUint64(s[4:]), readUint64(s[8:])
	}
	h0, t0, v0 := summary(0)
	var differ []string
	for r := 1; r < n; r++ {
		if hr, tr, vr := summary(r); hr != h0 {
			differ = append(differ, fmt.Sprintf("rank %d has %d parameter tensors with %d values", r, tr, vr))
		}
	}
	if len(differ) == 0 {
		return nil
	}
	// Every rank knows now that they differ: rank 0 sends its description
	// so that each rank can name its first difference.
	ref, err := d.broadcastLines(desc)
	if err != nil {
		return err
	}
	if hr, _, _ := summary(rank); hr == h0 {
		return fmt.Errorf("dist: rank %d of %d: the model differs between ranks: %s, rank 0 has %d with %d; every rank must build the same model (see the other ranks' errors for the first difference)", rank, n, strings.Join(differ, ", "), t0, v0)
	}
	return fmt.Errorf("dist: rank %d of %d: the model differs from rank 0's: %s; every rank must build the same model", rank, n, firstDifference(desc, ref))
}

// describe lists the model's tensors, one line each: kind, name, shape,
// and for parameters whether they train.
func (d *DataParallel) describe() []string {
	var lines []string
	for _, p := range d.params {
		lines = append(lines, fmt.Sprintf("parameter %s %v trainable=%v", p.Name, p.Param.Shape(), p.Param.RequiresGrad()))
	}
	for _, b := range d.buffers {
		lines = append(lines, fmt.Sprintf("buffer %s %v", b.Name, b.Buffer.Shape()))
	}
	return lines
}

// broadcastLines sends rank 0's lines to every rank.
func (d *DataParallel) broadcastLines(lines []string) ([]string, error) {
	text := strings.Join(lines, "\n")
	size := appendUint64(nil, uint64(len(text)))
	if err := d.comm.Broadcast(size, 0); err != nil {
		return nil, err
	}
	buf := make([]float32, readUint64(size))
	if d.comm.Rank() == 0 {
		for i := range buf {
			buf[i] = float32(text[i])
		}
	}
	if err := d.comm.Broadcast(buf, 0); err != nil {
		return nil, err
	}
	b := make([]byte, len(buf))
	for i, v := range buf {
		b[i] = byte(v)
	}
	return strings.Split(string(b), "\n"), nil
}

// firstDifference describes the first line where mine and rank 0's
// descriptions differ.
func firstDifference(mine, ref []string) string {
	for i := 0; i < max(len(mine), len(ref)); i++ {
		switch {
		case i >= len(mine):
			return fmt.Sprintf("rank 0 has %q, this rank has nothing more", ref[i])
		case i >= len(ref):
			return fmt.Sprintf("this rank has %q, rank 0 has nothing more", mine[i])
		case mine[i] != ref[i]:
			return fmt.Sprintf("this rank has %q where rank 0 has %q", mine[i], ref[i])
		}
	}
	return "the descriptions are equal but their hashes differ"
}

// appendUint64 appends v as four 16-bit pieces, each exact in a float32.
func appendUint64(b []float32, v uint64) []float32 {
	return append(b, float32(v&0xffff), float32(v>>16&0xffff), float32(v>>32&0xffff), float32(v>>48))
}

// readUint64 reads a value written by appendUint64.
func readUint64(b []float32) uint64 {
	return uint64(b[0]) | uint64(b[1])<<16 | uint64(b[2])<<32 | uint64(b[3])<<48
}

// read copies t's values into dst.
func read(t *autograd.Tensor, dst []float32) {
	if h, err := t.HostData(); err == nil {
		copy(dst, h)
		return
	}
	copy(dst, t.Data())
}

// write copies src into t's storage.
func write(t *autograd.Tensor, src []float32) {
	if h, err := t.HostData(); err == nil {
		copy(h, src)
		return
	}
	autograd.NoGrad(func() {
		t.CopyFrom(autograd.New(src, t.Shape()...).To(t.Device()))
	})
}
