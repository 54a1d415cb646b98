package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepgo/deepgo/autograd"
)

// Example is one sample of a dataset: its features as float32 values in
// row-major order with their shape, a class label, and optionally a target
// array (for regression or dense prediction).
type Example struct {
	// Data holds the features; len(Data) is the product of Shape.
	Data []float32
	// Shape is the shape of one example's features, without the batch
	// dimension: [1, 28, 28] for an MNIST image.
	Shape []int
	// Label is the class index; -1 when the dataset has no labels.
	Label int
	// Target holds a target array when the dataset has one (nil otherwise).
	Target []float32
	// TargetShape is the shape of Target; nil means [len(Target)].
	TargetShape []int
}

// Clone returns a deep copy of the example.
func (e Example) Clone() Example {
	return Example{
		Data:        slices.Clone(e.Data),
		Shape:       slices.Clone(e.Shape),
		Label:       e.Label,
		Target:      slices.Clone(e.Target),
		TargetShape: slices.Clone(e.TargetShape),
	}
}

// Dataset is an indexed collection of examples, as torch.utils.data.Dataset.
type Dataset interface {
	// Len returns the number of examples.
	Len() int
	// Item returns example i (0 ≤ i < Len()). The returned Data and Target
	// belong to the caller, who may change them. Item may be called from
	// several goroutines at once.
	Item(i int) (Example, error)
}

// InMemory is a dataset held in one float32 array: n examples of a fixed
// shape, with class labels and/or target arrays, as torch's TensorDataset.
type InMemory struct {
	x           []float32
	shape       []int
	size        int
	labels      []int
	y           []float32
	targetShape []int
	targetSize  int
	n           int
}

// NewInMemory returns a dataset of the examples in x, each of shape
// itemShape (so len(x) is n·∏itemShape), labelled with labels (len n; nil
// for unlabelled data, whose examples get label -1). The dataset keeps x
// without copying it; do not change x while the dataset is in use.
func NewInMemory(x []float32, itemShape []int, labels []int) (*InMemory, error) {
	size, err := shapeSize("NewInMemory", itemShape)
	if err != nil {
		return nil, err
	}
	if len(x)%size != 0 {
		return nil, fmt.Errorf("data: NewInMemory: %d values do not split into examples of shape %v (%d values each)", len(x), itemShape, size)
	}
	n := len(x) / size
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("data: NewInMemory: %d examples of shape %v but %d labels", n, itemShape, len(labels))
	}
	return &InMemory{x: x, shape: slices.Clone(itemShape), size: size, labels: labels, n: n}, nil
}

// NewInMemoryTargets returns a dataset of the examples in x (as NewInMemory)
// with a target array of shape targetShape for each, taken from y
// (len(y) is n·∏targetShape), and optional labels (nil for none).
func NewInMemoryTargets(x []float32, itemShape []int, y []float32, targetShape []int, labels []int) (*InMemory, error) {
	d, err := NewInMemory(x, itemShape, labels)
	if err != nil {
		return nil, err
	}
	ts, err := shapeSize("NewInMemoryTargets", targetShape)
	if err != nil {
		return nil, err
	}
	if len(y) != d.n*ts {
		return nil, fmt.Errorf("data: NewInMemoryTargets: %d examples need %d target values of shape %v, got %d", d.n, d.n*ts, targetShape, len(y))
	}
	d.y, d.targetShape, d.targetSize = y, slices.Clone(targetShape), ts
	return d, nil
}

func shapeSize(op string, shape []int) (int, error) {
	if len(shape) == 0 {
		return 0, fmt.Errorf("data: %s: empty example shape; give at least one dimension, such as [features]", op)
	}
	size := 1
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("data: %s: shape %v has a dimension ≤ 0", op, shape)
		}
		size *= d
	}
	return size, nil
}

// Len returns the number of examples.
func (d *InMemory) Len() int { return d.n }

// Item returns a copy of example i.
func (d *InMemory) Item(i int) (Example, error) {
	if i < 0 || i >= d.n {
		return Example{}, fmt.Errorf("data: InMemory.Item: index %d out of range [0, %d)", i, d.n)
	}
	ex := Example{
		Data:  slices.Clone(d.x[i*d.size : (i+1)*d.size]),
		Shape: slices.Clone(d.shape),
		Label: -1,
	}
	if d.labels != nil {
		ex.Label = d.labels[i]
	}
	if d.y != nil {
		ex.Target = slices.Clone(d.y[i*d.targetSize : (i+1)*d.targetSize])
		ex.TargetShape = slices.Clone(d.targetShape)
	}
	return ex, nil
}

// Subset is the part of a dataset at the given indices, in their order,
// as torch.utils.data.Subset. It holds only the indices.
type Subset struct {
	// Dataset is the underlying dataset.
	Dataset Dataset
	// Indices are the underlying dataset's indices of the subset's examples.
	Indices []int
}

// NewSubset returns the subset of ds at indices, checking that every index
// is in range.
func NewSubset(ds Dataset, indices []int) (*Subset, error) {
	n := ds.Len()
	for j, i := range indices {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("data: NewSubset: index %d (position %d) out of range for a dataset of %d examples", i, j, n)
		}
	}
	return &Subset{Dataset: ds, Indices: indices}, nil
}

// Len returns the number of examples in the subset.
func (s *Subset) Len() int { return len(s.Indices) }

// Item returns example i of the subset, that is Indices[i] of the dataset.
func (s *Subset) Item(i int) (Example, error) {
	if i < 0 || i >= len(s.Indices) {
		return Example{}, fmt.Errorf("data: Subset.Item: index %d out of range [0, %d)", i, len(s.Indices))
	}
	return s.Dataset.Item(s.Indices[i])
}

// RandomSplit splits ds into non-overlapping subsets of the given sizes,
// which must add up to ds.Len(), after shuffling the indices with a
// generator seeded by seed, as torch.utils.data.random_split. The same seed
// gives the same split on every run.
func RandomSplit(ds Dataset, sizes []int, seed uint64) ([]*Subset, error) {
	n, total := ds.Len(), 0
	for _, s := range sizes {
		if s < 0 {
			return nil, fmt.Errorf("data: RandomSplit: negative size in %v", sizes)
		}
		total += s
	}
	if total != n {
		return nil, fmt.Errorf("data: RandomSplit: sizes %v add up to %d, but the dataset has %d examples", sizes, total, n)
	}
	perm := autograd.NewRNG(mix(seed, splitSalt)).Perm(n)
	out := make([]*Subset, len(sizes))
	off := 0
	for k, s := range sizes {
		out[k] = &Subset{Dataset: ds, Indices: perm[off : off+s : off+s]}
		off += s
	}
	return out, nil
}

// RandomSplitFractions splits ds as RandomSplit into parts of the given
// fractions of its length (which must add up to 1): each part gets
// ⌊f·n⌋ examples and the remainder goes one each to the first parts,
// as torch's random_split with fractions.
func RandomSplitFractions(ds Dataset, fractions []float64, seed uint64) ([]*Subset, error) {
	sum := 0.0
	for _, f := range fractions {
		if f < 0 || f > 1 || math.IsNaN(f) {
			return nil, fmt.Errorf("data: RandomSplitFractions: fraction %v is not in [0, 1]", f)
		}
		sum += f
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, fmt.Errorf("data: RandomSplitFractions: fractions %v add up to %v, not 1", fractions, sum)
	}
	n := ds.Len()
	sizes := make([]int, len(fractions))
	rest := n
	for k, f := range fractions {
		sizes[k] = int(math.Floor(f * float64(n)))
		rest -= sizes[k]
	}
	for k := 0; rest > 0 && len(sizes) > 0; k = (k + 1) % len(sizes) {
		sizes[k]++
		rest--
	}
	return RandomSplit(ds, sizes, seed)
}

// Salts that keep the generators drawn from one seed apart.
const (
	splitSalt     = 0x73706c6974 // "split"
	orderSalt     = 0x6f72646572 // "order"
	transformSalt = 0x7472616e73 // "trans"
)

// mix hashes seed and the values into one well-mixed 64-bit seed
// (SplitMix64 applied after each value), so that nearby inputs give
// unrelated generators.
func mix(seed uint64, vals ...uint64) uint64 {
	h := splitmix(seed ^ 0x9e3779b97f4a7c15)
	for _, v := range vals {
		h = splitmix(h ^ v)
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
