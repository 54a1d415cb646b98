package autograd_test

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
)

// Shape errors are programmer errors: they panic naming the op and shapes.
func TestShapeMismatchPanicsNameOpAndShapes(t *testing.T) {
	a, b := ag.Zeros(2, 3), ag.Zeros(4)
	cases := []struct {
		name string
		f    func()
		msg  string
	}{
		{"Add", func() { a.Add(b) }, "autograd: Add: shapes [2 3] and [4] are not broadcastable"},
		{"Mul", func() { a.Mul(ag.Zeros(3, 3)) }, "autograd: Mul: shapes [2 3] and [3 3] are not broadcastable"},
		{"Where", func() { ag.Where(ag.Zeros(2, 1), a, ag.Zeros(5)) }, "autograd: Where: shapes [2 1], [2 3] and [5] are not broadcastable"},
		{"MatMul", func() { a.MatMul(ag.Zeros(2, 3)) }, "autograd: MatMul: shapes [2 3] and [2 3] (transA=false, transB=false) have inner dimensions 3 and 2"},
		{"MatMulBatch", func() { ag.Zeros(2, 2, 3).MatMul(ag.Zeros(3, 3, 4)) }, "autograd: MatMul: shapes [2] and [3] are not broadcastable"},
		{"Reshape", func() { a.Reshape(4, 2) }, "autograd: Reshape: shape [4 2] holds 8 elements, tensor of shape [2 3] has 6"},
		{"ReshapeInfer", func() { a.Reshape(4, -1) }, "autograd: Reshape: cannot infer -1 in shape [4 -1] for tensor of shape [2 3] (6 elements)"},
		{"Concat", func() { ag.Concat([]*ag.Tensor{a, ag.Zeros(2, 4)}, 0) }, "autograd: Concat: shapes [2 3] and [2 4] differ outside dimension 0"},
		{"Stack", func() { ag.Stack([]*ag.Tensor{a, ag.Zeros(3, 2)}, 0) }, "autograd: Stack: shapes [2 3] and [3 2] differ"},
		{"Expand", func() { a.Expand(2, 4) }, "autograd: Expand: tensor of shape [2 3] cannot expand to [2 4]"},
		{"Permute", func() { a.Permute(0) }, "autograd: Permute: permutation [0] has 1 entries for shape [2 3]"},
		{"Narrow", func() { a.Narrow(1, 2, 2) }, "autograd: Narrow: start 2 length 2 out of range for dimension 1 of shape [2 3]"},
		{"Sum", func() { a.Sum(2) }, "autograd: Sum: dimension 2 out of range for shape [2 3]"},
		{"Softmax", func() { a.Softmax(-3) }, "autograd: Softmax: dimension -3 out of range for shape [2 3]"},
		{"IndexSelect", func() { a.IndexSelect(0, []int{2}) }, "autograd: IndexSelect: index 2 out of range for dimension 0 of shape [2 3]"},
		{"SplitSizes", func() { a.SplitSizes([]int{1, 1}, 1) }, "autograd: SplitSizes: sizes [1 1] add up to 2, dimension 1 of shape [2 3] is 3"},
		{"New", func() { ag.New([]float32{1, 2, 3}, 2, 2) }, "autograd: New: shape [2 2] needs 4 values, got 3"},
		{"Item", func() { a.Item() }, "autograd: Item: tensor of shape [2 3] has 6 elements; Item needs exactly one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.PanicsWithValue(t, c.msg, c.f) })
	}
}
