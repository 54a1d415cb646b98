// Package dist trains one model on several processes at once, data-parallel,
// on one machine or several: every process (rank) holds a replica of the
// model, trains it on its own shard of each batch, and the ranks average
// their gradients before every optimizer step, so that the replicas stay
// equal and training follows the one-process run with the batches of all
// the ranks together.
//
// # Communicators
//
// Comm is the small set of collective operations the ranks need: all-reduce
// (sum, mean, max) of float32 buffers, broadcast, all-gather and barrier.
// Open returns the communicator of the job the program runs in:
//
//   - built with the build tag mpi (`go build -tags mpi`, which needs cgo
//     and Open MPI's headers and library: Debian's libopenmpi-dev), an Open
//     MPI communicator over every process that mpirun started;
//   - built without it (the default, and with CGO_ENABLED=0), Single, the
//     communicator of one process, whose collectives return their input.
//
// A program written against Comm therefore runs unchanged as one process
// or as many. The MPI communicator makes every MPI call from one goroutine
// locked to its OS thread (MPI_Init_thread asks for MPI_THREAD_FUNNELED and
// checks that the library provides it), so Comm's methods may be called from
// any goroutine.
//
// # Failures end the job, not hang it
//
// MPI waits forever for a rank that died, hangs, or calls a different
// collective. The MPI communicator therefore runs each collective (MPI's
// blocking call, so that Open MPI picks its fastest algorithm) on its MPI
// thread while the caller waits for it against a deadline
// (Options.Timeout, 5 minutes by default) and against the context given to
// Open: when either runs out the call returns an *Error that names the
// rank, the operation and the likely causes, and the communicator refuses
// every later call with the same error. The program should then exit with
// a non-zero status; mpirun ends the other ranks when one exits that way
// (or dies), and sends them SIGTERM, which a context from
// signal.NotifyContext turns into an error that names the cause on those
// ranks as well. A model that differs between ranks is caught before
// training starts: NewDataParallel compares the parameters' names and
// shapes on every rank and returns an error on every rank when they differ.
//
// # Data-parallel training
//
// DataParallel holds what a training run needs: NewDataParallel checks the
// model against the other ranks and copies rank 0's parameters and buffers
// to every rank; AllReduceGradients averages the gradients, packed into
// buckets of about Options.BucketBytes (one all-reduce per bucket, not one
// per tensor, each bucket's packing and unpacking overlapping the
// reduction of the others); AllReduceSums sums metrics. It implements
// train.Parallel, so a train.Trainer runs data-parallel with
//
//	comm, err := dist.Open(ctx, dist.Options{})
//	...
//	defer comm.Close()
//	dp, err := dist.NewDataParallel(comm, model, dist.DataParallelOptions{})
//	...
//	loader, err := data.NewLoader(trainSet, dist.Shard(cfg, comm)) // this rank's part of every epoch
//	tr := &train.Trainer{Model: model, Train: loader, ...}
//	if err := dp.Setup(tr); err != nil { ... } // averages gradients and metrics; rank 0 alone writes and prints
//	_, err = tr.Fit(ctx)
//
// With a batch size of B on each of N ranks, every step averages the
// gradients of N·B examples: the same update, up to rounding, as one
// process with a batch of N·B over the same data order (when the loss is a
// mean over the batch, as train.Output asks). Layers that behave
// differently with a smaller batch do not follow that rule: BatchNorm
// normalises each rank's B examples with their own statistics (its running
// statistics are copied from rank 0 after every step, as torch's
// DistributedDataParallel does), and Dropout draws its masks from the
// Trainer's generators, which DecorrelateRNGs makes differ between ranks.
//
// The backward pass of package autograd has no hook that says when one
// parameter's gradient is final, so the all-reduce starts when the
// backward pass has ended, rather than overlapping with its last layers as
// torch's does; the buckets are laid out in reverse parameter order, the
// order in which such a hook would fill them.
//
// See examples/ddp for a complete program and how to launch it with mpirun
// on one machine or several.
package dist
