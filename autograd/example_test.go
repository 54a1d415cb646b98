package autograd_test

import (
	"fmt"
	"slices"

	"github.com/deepgo/deepgo/autograd"
)

// The README's example: fit y = 2x + 1 with a weight, a bias and plain
// gradient descent.
func Example() {
	x := autograd.New([]float32{0, 1, 2, 3}, 4, 1)
	y := autograd.New([]float32{1, 3, 5, 7}, 4, 1)
	w := autograd.Zeros(1, 1).SetRequiresGrad(true)
	b := autograd.Zeros(1).SetRequiresGrad(true)
	for range 500 {
		loss := x.MatMul(w).Add(b).Sub(y).Square().Mean()
		w.ZeroGrad()
		b.ZeroGrad()
		loss.Backward()
		autograd.NoGrad(func() { w.AddInPlace(w.Grad, -0.1); b.AddInPlace(b.Grad, -0.1) })
	}
	fmt.Printf("w=%.3f b=%.3f\n", w.Item(), b.Item())
	// Output: w=2.000 b=1.000
}

func ExampleNew() {
	x := autograd.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	fmt.Println(x.Shape(), x.Dim(), x.Numel())
	fmt.Println(x)
	fmt.Println(x.At(1, 2))

	// Without a shape, New makes a 1-D tensor; Scalar makes a 0-D one.
	fmt.Println(autograd.New([]float32{0.5, 1.5}))
	fmt.Println(autograd.Scalar(3))
	// Output:
	// [2 3] 2 6
	// tensor([[1., 2., 3.],
	//         [4., 5., 6.]])
	// 6
	// tensor([0.5000, 1.5000])
	// tensor(3.)
}

// Gradients of f(x) = Σ x² + 3x, which are 2x + 3.
func ExampleTensor_Backward() {
	x := autograd.New([]float32{1, -2, 0.5}).SetRequiresGrad(true)
	f := x.Square().Add(x.MulScalar(3)).Sum()
	fmt.Println(f)
	f.Backward()
	fmt.Println(x.Grad)
	// Output:
	// tensor(3.7500, grad_fn=<SumBackward>)
	// tensor([ 5., -1.,  4.])
}

func ExampleTensor_MatMul() {
	a := autograd.New([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := autograd.New([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	fmt.Println(a.MatMul(b))

	// Batched: a stack of two matrices times one shared matrix.
	batch := autograd.Ones(2, 4, 3)
	fmt.Println(batch.MatMul(b).Shape())
	// Output:
	// tensor([[ 4.,  5.],
	//         [10., 11.]])
	// [2 4 2]
}

func ExampleNoGrad() {
	w := autograd.Ones(2).SetRequiresGrad(true)
	y := w.MulScalar(2)
	fmt.Println(y.RequiresGrad(), autograd.IsGradEnabled())

	autograd.NoGrad(func() {
		z := w.MulScalar(2)
		fmt.Println(z.RequiresGrad(), autograd.IsGradEnabled())
	})
	fmt.Println(autograd.IsGradEnabled())
	// Output:
	// true true
	// false false
	// true
}

func ExampleNewRNG() {
	a := autograd.NewRNG(42).Normal(0, 1, 2, 3)
	b := autograd.NewRNG(42).Normal(0, 1, 2, 3)
	c := autograd.NewRNG(43).Normal(0, 1, 2, 3)
	fmt.Println(a.Shape())
	fmt.Println("same seed agrees:", slices.Equal(a.Data(), b.Data()))
	fmt.Println("other seed differs:", !slices.Equal(a.Data(), c.Data()))

	u := autograd.NewRNG(7).Uniform(-1, 1, 1000)
	lo, hi := u.Min().Item(), u.Max().Item()
	fmt.Println("uniform in [-1, 1):", lo >= -1 && hi < 1)
	// Output:
	// [2 3]
	// same seed agrees: true
	// other seed differs: true
	// uniform in [-1, 1): true
}
