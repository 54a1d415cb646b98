package data_test

import (
	"fmt"

	"github.com/deepgo/deepgo/data"
)

// Split a small dataset into training and validation parts, and read the
// training part in shuffled batches prepared by a background goroutine.
func ExampleLoader() {
	// Ten examples of two features, labelled 0 or 1.
	x := make([]float32, 20)
	labels := make([]int, 10)
	for i := range labels {
		x[2*i], x[2*i+1] = float32(i), float32(i*i)
		labels[i] = i % 2
	}
	ds, err := data.NewInMemory(x, []int{2}, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	parts, err := data.RandomSplit(ds, []int{8, 2}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	train, err := data.NewLoader(parts[0], data.LoaderConfig{BatchSize: 3, Shuffle: true, Seed: 7, Prefetch: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("batches per epoch:", train.Len())
	for epoch := 0; epoch < 2; epoch++ {
		it := train.Iter(epoch, 0)
		seen := 0
		for it.Next() {
			b := it.Batch()
			if b.Index == 0 {
				fmt.Println("epoch", epoch, "first batch X", b.X.Shape(), "labels", len(b.Labels))
			}
			seen += b.Size()
		}
		it.Close()
		if err := it.Err(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("epoch", epoch, "examples", seen)
	}
	// Output:
	// batches per epoch: 3
	// epoch 0 first batch X [3 2] labels 3
	// epoch 0 examples 8
	// epoch 1 first batch X [3 2] labels 3
	// epoch 1 examples 8
}
