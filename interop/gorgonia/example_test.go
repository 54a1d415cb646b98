package gorgonia_test

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/interop/gorgonia"
	"gorgonia.org/tensor"
)

// A gorgonia Dense becomes an autograd parameter without a copy, gets a
// gradient, and the gradient goes back to gorgonia without a copy.
func Example() {
	w := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))

	x, err := gorgonia.FromDense(w)
	if err != nil {
		panic(err)
	}
	x.SetRequiresGrad(true)
	x.Mul(x).Sum().Backward() // d/dx sum(x²) = 2x

	g, err := gorgonia.ToDense(x.Grad)
	if err != nil {
		panic(err)
	}
	fmt.Println(g.Shape(), g.Float32s())

	// The memory is shared: a write through gorgonia shows in autograd.
	w.Float32s()[0] = 10
	fmt.Println(x.At(0, 0))
	// Output:
	// (2, 2) [2 4 6 8]
	// 10
}

func ExampleFromDense() {
	d := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	x, err := gorgonia.FromDense(d)
	if err != nil {
		panic(err)
	}
	fmt.Println(x)

	// A lazily transposed Dense must be applied (or materialised) first.
	if err := d.T(); err != nil {
		panic(err)
	}
	if _, err := gorgonia.FromDense(d); err != nil {
		fmt.Println("error")
	}
	if err := d.Transpose(); err != nil {
		panic(err)
	}
	xt, err := gorgonia.FromDense(d)
	if err != nil {
		panic(err)
	}
	fmt.Println(xt.Shape())
	// Output:
	// tensor([[1., 2., 3.],
	//         [4., 5., 6.]])
	// error
	// [3 2]
}

func ExampleToDense() {
	x := autograd.Arange(0, 6, 1).Reshape(3, 2)
	d, err := gorgonia.ToDense(x)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Shape(), d.Dtype())
	v, _ := d.At(2, 1)
	fmt.Println(v)
	// Output:
	// (3, 2) float32
	// 5
}
