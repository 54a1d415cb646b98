package nn

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
)

// Embedding is torch.nn.Embedding: a lookup table Weight of shape
// [num, dim] whose rows are picked by integer indices. With a padding index
// the row it names starts at zero and receives no gradient. Its state_dict
// name is "weight".
type Embedding struct {
	Weight *Parameter
	// PaddingIdx is the padding row in [0, num), or −1 for none.
	PaddingIdx int
}

// NewEmbedding returns an Embedding of num rows of size dim, drawn from
// N(0, 1) with rng as torch initialises it.
func NewEmbedding(rng *autograd.RNG, num, dim int) *Embedding {
	if num <= 0 || dim <= 0 {
		panic(fmt.Sprintf("nn: NewEmbedding: num=%d and dim=%d must be positive", num, dim))
	}
	e := &Embedding{Weight: NewParameter(autograd.Zeros(num, dim)), PaddingIdx: -1}
	Normal(e.Weight.Tensor, 0, 1, rng)
	return e
}

// NewEmbeddingPadded returns an Embedding with torch's padding_idx: as
// NewEmbedding, with row paddingIdx (negative counts from the end) zeroed
// and excluded from the gradient.
func NewEmbeddingPadded(rng *autograd.RNG, num, dim, paddingIdx int) *Embedding {
	if paddingIdx < 0 {
		paddingIdx += num
	}
	if paddingIdx < 0 || paddingIdx >= num {
		panic(fmt.Sprintf("nn: NewEmbeddingPadded: padding index must be within num_embeddings=%d", num))
	}
	e := NewEmbedding(rng, num, dim)
	e.PaddingIdx = paddingIdx
	data := e.Weight.Data()
	clear(data[paddingIdx*dim : (paddingIdx+1)*dim])
	fill(e.Weight.Tensor, data)
	return e
}

// Forward looks up the rows idx, laid out with the given shape (a flat
// list when shape is empty); the result has shape shape + [dim]. Indices
// must lie in [0, num).
func (e *Embedding) Forward(idx []int, shape ...int) *autograd.Tensor {
	if len(shape) == 0 {
		shape = []int{len(idx)}
	}
	if e.PaddingIdx >= 0 {
		return autograd.EmbeddingPadded(e.Weight.Tensor, idx, shape, e.PaddingIdx)
	}
	return autograd.Embedding(e.Weight.Tensor, idx, shape)
}

// ForwardTensor looks up the rows named by the values of x (integers held
// as float32, as a data loader may hand them over); the result has shape
// x.Shape() + [dim]. It lets an Embedding start a Sequential through
// LayerFunc.
func (e *Embedding) ForwardTensor(x *autograd.Tensor) *autograd.Tensor {
	data := x.Data()
	idx := make([]int, len(data))
	for i, v := range data {
		idx[i] = int(v)
		if float32(idx[i]) != v {
			panic(fmt.Sprintf("nn: Embedding: index %v at position %d of input %v is not an integer", v, i, x.Shape()))
		}
	}
	if x.Dim() == 0 {
		return e.Forward(idx).Reshape(e.Weight.Size(1))
	}
	return e.Forward(idx, x.Shape()...)
}
