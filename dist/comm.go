package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Comm is a communicator: the processes (ranks) of one job and the
// collective operations between them. A collective must be called by every
// rank, in the same order on every rank, with buffers of the same length;
// it returns when this rank's part is done.
//
// Comm's methods are safe to call from several goroutines, but the order
// of collectives must be the same on every rank, so a program issues them
// from one goroutine at a time. Argument errors (a bad root, buffer lengths
// that do not fit, an unknown Op) are programmer errors and panic; failures
// of the job return an error (see Error).
type Comm interface {
	// Rank is this process's number in [0, Size).
	Rank() int
	// Size is the number of processes.
	Size() int
	// AllReduce replaces buf on every rank by the elementwise reduction
	// (op) of the bufs of all the ranks.
	AllReduce(buf []float32, op Op) error
	// Broadcast copies root's buf into the buf of every other rank.
	Broadcast(buf []float32, root int) error
	// AllGather concatenates the send buffers of all the ranks, in rank
	// order, into recv on every rank: len(recv) must be Size()·len(send).
	AllGather(send, recv []float32) error
	// Barrier returns when every rank has called it.
	Barrier() error
	// Close releases the communicator (for MPI, finalizes it). Call it on
	// every rank at the end of the program; later calls are errors.
	Close() error
}

// Op is a reduction for AllReduce.
type Op int

// The reductions.
const (
	// Sum adds the ranks' values.
	Sum Op = iota
	// Mean adds the ranks' values and divides by the number of ranks.
	Mean
	// Max takes the largest of the ranks' values.
	Max
)

// String returns the reduction's name.
func (op Op) String() string {
	switch op {
	case Sum:
		return "Sum"
	case Mean:
		return "Mean"
	case Max:
		return "Max"
	}
	return "Op(" + strconv.Itoa(int(op)) + ")"
}

func (op Op) check(method string) {
	if op < Sum || op > Max {
		panic(fmt.Sprintf("dist: %s: unknown reduction %v; use Sum, Mean or Max", method, op))
	}
}

// DefaultTimeout is how long a collective of the MPI communicator waits
// for the other ranks when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Options configures Open.
type Options struct {
	// Timeout bounds how long one collective waits for the other ranks
	// before it fails with an Error wrapping ErrTimeout: it must exceed the
	// longest time one rank may work between two collectives while another
	// waits (a step, an evaluation, writing a checkpoint on rank 0).
	// Zero means DefaultTimeout; a negative value waits forever.
	Timeout time.Duration
}

func (o Options) timeout() time.Duration {
	switch {
	case o.Timeout == 0:
		return DefaultTimeout
	case o.Timeout < 0:
		return 0
	}
	return o.Timeout
}

// ErrTimeout is wrapped by the Error of a collective that did not complete
// within Options.Timeout.
var ErrTimeout = errors.New("dist: the collective timed out")

// ErrClosed is returned by the methods of a closed communicator.
var ErrClosed = errors.New("dist: the communicator is closed")

// Error is the error of a collective that failed: it timed out (Err is
// ErrTimeout), its context was cancelled (Err is the context's error), or
// MPI reported an error. After one, the communicator is unusable: MPI
// cannot abandon a collective that another rank may still join, so every
// later call returns an error that wraps this one. Exit the program with a
// non-zero status; mpirun then ends the other ranks.
type Error struct {
	// Rank and Size are this process's rank and the number of ranks.
	Rank, Size int
	// Op names the collective ("AllReduce", "Broadcast", ...).
	Op string
	// Len is the number of float32 values it was given.
	Len int
	// After is how long it waited.
	After time.Duration
	// Err is the cause.
	Err error
}

// Error describes the failure and what probably caused it.
func (e *Error) Error() string {
	what := fmt.Sprintf("dist: rank %d of %d: %s of %d values", e.Rank, e.Size, e.Op, e.Len)
	switch {
	case errors.Is(e.Err, ErrTimeout):
		return fmt.Sprintf("%s timed out after %v: another rank has died, hangs, or is calling a different collective (look for its error in the job's output); raise dist.Options.Timeout if a rank may legitimately work that long between two collectives", what, e.After.Round(10*time.Millisecond))
	case errors.Is(e.Err, errCancelled):
		return fmt.Sprintf("%s interrupted after %v: %v (mpirun sends SIGTERM to every rank when one of them fails: look for the first error in the job's output)", what, e.After.Round(10*time.Millisecond), e.Err)
	}
	return fmt.Sprintf("%s failed: %v", what, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errCancelled marks a collective interrupted by its context.
var errCancelled = errors.New("the context is done")

// launched returns the number of processes the launcher started this one
// among (Open MPI's mpirun, or a PMI launcher such as Slurm's srun), and 1
// when none did.
func launched() int {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"} {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// Single is the communicator of a program that runs as one process: rank
// 0 of 1. Its collectives return their input (a reduction over one rank
// is the rank's own values) and never fail. The zero value is ready to
// use; Open returns it in builds without the mpi build tag.
type Single struct{}

// Rank returns 0.
func (Single) Rank() int { return 0 }

// Size returns 1.
func (Single) Size() int { return 1 }

// AllReduce leaves buf as it is: the sum, mean or maximum over one rank.
func (Single) AllReduce(buf []float32, op Op) error {
	op.check("AllReduce")
	return nil
}

// Broadcast leaves buf as it is; root must be 0.
func (Single) Broadcast(buf []float32, root int) error {
	checkRoot(root, 1)
	return nil
}

// AllGather copies send into recv, which must have the same length.
func (Single) AllGather(send, recv []float32) error {
	checkGather(send, recv, 1)
	copy(recv, send)
	return nil
}

// Barrier returns at once.
func (Single) Barrier() error { return nil }

// Close does nothing.
func (Single) Close() error { return nil }

func checkRoot(root, size int) {
	if root < 0 || root >= size {
		panic(fmt.Sprintf("dist: Broadcast: root %d out of range [0, %d)", root, size))
	}
}

func checkGather(send, recv []float32, size int) {
	if len(recv) != size*len(send) {
		panic(fmt.Sprintf("dist: AllGather: recv has %d values for %d ranks of %d; it needs Size()·len(send) = %d", len(recv), size, len(send), size*len(send)))
	}
}
