package dist_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/dist"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"
)

// A program written against Comm runs as one process with Single, where
// every collective returns its input.
func ExampleSingle() {
	var c dist.Comm = dist.Single{}
	grads := []float32{0.5, -1, 2}
	if err := c.AllReduce(grads, dist.Mean); err != nil {
		log.Fatal(err)
	}
	all := make([]float32, c.Size()*2)
	if err := c.AllGather([]float32{7, 8}, all); err != nil {
		log.Fatal(err)
	}
	fmt.Println("rank", c.Rank(), "of", c.Size(), "mean", grads, "gathered", all)
	// Output: rank 0 of 1 mean [0.5 -1 2] gathered [7 8]
}

// Open returns the job's communicator: the MPI one in a build with the mpi
// tag started by mpirun, Single otherwise.
func ExampleOpen() {
	// mpirun sends SIGTERM to every rank when one fails; the context turns
	// it into an error from the collective in progress.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	comm, err := dist.Open(ctx, dist.Options{})
	if err != nil {
		log.Fatal(err)
	}
	buf := []float32{float32(comm.Rank())}
	if err := comm.AllReduce(buf, dist.Sum); err != nil {
		// After a failed collective MPI cannot be finalized: exit, and
		// mpirun ends the other ranks.
		log.Fatal(err)
	}
	fmt.Println("the sum of the ranks is", buf[0])
	if err := comm.Close(); err != nil {
		log.Fatal(err)
	}
}

// A Trainer runs data-parallel once DataParallel has set it up, with a
// loader sharded across the ranks. Over Single it trains as it would
// alone.
func ExampleDataParallel_Setup() {
	comm := dist.Single{} // dist.Open(ctx, dist.Options{}) in a real program
	rng := autograd.NewRNG(1)
	model := &struct{ FC *nn.Linear }{nn.NewLinear(rng, 2, 2, true)}
	dp, err := dist.NewDataParallel(comm, model, dist.DataParallelOptions{})
	if err != nil {
		log.Fatal(err)
	}
	x := rng.Normal(0, 1, 64, 2).Data()
	labels := make([]int, 64)
	for i := range labels {
		if x[2*i] > 0 {
			labels[i] = 1
		}
	}
	ds, err := data.NewInMemory(x, []int{2}, labels)
	if err != nil {
		log.Fatal(err)
	}
	loader, err := data.NewLoader(ds, dist.Shard(data.LoaderConfig{BatchSize: 16, Shuffle: true, Seed: 1}, comm))
	if err != nil {
		log.Fatal(err)
	}
	tr := &train.Trainer{
		Model: model,
		Step: func(b *data.Batch) train.Output {
			logits := model.FC.Forward(b.X)
			return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
		},
		Optimizer: optim.NewSGD(nn.Parameters(model), optim.SGDConfig{LR: 0.5}),
		Train:     loader,
		Epochs:    5,
		Progress:  train.ProgressOff,
	}
	if err := dp.Setup(tr); err != nil {
		log.Fatal(err)
	}
	if _, err := tr.Fit(context.Background()); err != nil {
		log.Fatal(err)
	}
	st := dp.Stats()
	fmt.Printf("%d steps, %d gradient values in %d bucket\n", tr.StepCount(), st.Values, st.Buckets)
	// Output: 20 steps, 6 gradient values in 1 bucket
}
