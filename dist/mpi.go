//go:build mpi && cgo

package dist

/*
#cgo pkg-config: ompi-c
#include <mpi.h>
#include <stdlib.h>

// dg_comm is the library's own duplicate of MPI_COMM_WORLD, whose errors
// are returned rather than fatal.
static MPI_Comm dg_comm = MPI_COMM_NULL;

// dg_init initialises MPI for calls from this thread only
// (MPI_THREAD_FUNNELED). It returns -1 when MPI was initialised already.
static int dg_init(int *provided, int *rank, int *size) {
	int flag = 0;
	MPI_Initialized(&flag);
	if (flag) {
		return -1;
	}
	// Open MPI's handlers of SIGSEGV, SIGBUS, ... (for its backtraces)
	// must not take the signals that the Go runtime turns into panics:
	// ask it to install none, unless the user chose otherwise.
	setenv("OMPI_MCA_opal_signal", "", 0);
	int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
	if (rc != MPI_SUCCESS) {
		return rc;
	}
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	rc = MPI_Comm_dup(MPI_COMM_WORLD, &dg_comm);
	if (rc != MPI_SUCCESS) {
		return rc;
	}
	MPI_Comm_set_errhandler(dg_comm, MPI_ERRORS_RETURN);
	MPI_Comm_rank(dg_comm, rank);
	MPI_Comm_size(dg_comm, size);
	return MPI_SUCCESS;
}

static int dg_finalize(void) {
	if (dg_comm != MPI_COMM_NULL) {
		MPI_Comm_free(&dg_comm);
	}
	return MPI_Finalize();
}

static int dg_allreduce(float *buf, int n, int max) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, max ? MPI_MAX : MPI_SUM, dg_comm);
}

static int dg_bcast(float *buf, int n, int root) {
	return MPI_Bcast(buf, n, MPI_FLOAT, root, dg_comm);
}

static int dg_allgather(float *send, float *recv, int n) {
	return MPI_Allgather(send, n, MPI_FLOAT, recv, n, MPI_FLOAT, dg_comm);
}

static int dg_barrier(void) {
	return MPI_Barrier(dg_comm);
}

static void dg_error_string(int rc, char *buf) {
	int n = 0;
	if (MPI_Error_string(rc, buf, &n) != MPI_SUCCESS) {
		n = 0;
	}
	buf[n] = 0;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// MPI reports whether this build has the Open MPI communicator (the build
// tag mpi, with cgo enabled).
const MPI = true

var (
	openMu sync.Mutex
	opened bool
)

// maxCount is the largest count one MPI call takes (a C int).
const maxCount = math.MaxInt32

// Open initialises MPI and returns the communicator of every process that
// mpirun started (MPI_COMM_WORLD). A program started without mpirun is a
// job of one process (MPI's singleton start). MPI can be initialised once
// per process, so Open can be called once. Cancelling ctx interrupts a
// collective in progress and fails every later one (see Error); pass the
// context of signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt) to
// turn mpirun's SIGTERM, sent when another rank fails, into an error.
func Open(ctx context.Context, opts Options) (Comm, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if opened {
		return nil, errors.New("dist: Open: MPI was opened already in this process, and can be initialised only once; share the Comm")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c := &mpiComm{timeout: opts.timeout(), ctx: ctx, calls: make(chan func())}
	ready := make(chan error)
	go c.loop(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	opened = true
	return c, nil
}

// mpiComm is the Open MPI communicator. Every MPI call runs on the
// goroutine of loop, locked to the OS thread that initialised MPI, as MPI's
// blocking call; the caller waits for it against the timeout and the
// context, so that a collective that never completes fails the caller
// while the MPI thread stays inside it.
type mpiComm struct {
	rank, size int
	timeout    time.Duration
	ctx        context.Context
	calls      chan func()

	mu     sync.Mutex // serialises calls and guards the fields below
	closed bool
	broken error           // the failure that made the communicator unusable
	stuck  <-chan struct{} // closed when the MPI call that failed returns
}

// loop initialises MPI on its own locked OS thread and then runs the calls
// sent to it, so that every MPI call comes from that thread. It never
// unlocks the thread.
func (c *mpiComm) loop(ready chan<- error) {
	runtime.LockOSThread()
	var provided, rank, size C.int
	switch rc := C.dg_init(&provided, &rank, &size); {
	case rc == -1:
		ready <- errors.New("dist: Open: MPI was initialised already by other code in this process; dist must initialise it itself, from its own thread")
		return
	case rc != C.MPI_SUCCESS:
		ready <- fmt.Errorf("dist: Open: MPI_Init_thread: %s", mpiErrorString(rc))
		return
	}
	if provided < C.MPI_THREAD_FUNNELED {
		C.dg_finalize()
		ready <- fmt.Errorf("dist: Open: the MPI library provides thread level %d, below MPI_THREAD_FUNNELED (%d), which calls from one thread of a multi-threaded Go program need; use an MPI built with thread support", int(provided), int(C.MPI_THREAD_FUNNELED))
		return
	}
	c.rank, c.size = int(rank), int(size)
	ready <- nil
	for f := range c.calls {
		f()
	}
}

// Rank returns this process's rank in MPI_COMM_WORLD.
func (c *mpiComm) Rank() int { return c.rank }

// Size returns the number of processes in MPI_COMM_WORLD.
func (c *mpiComm) Size() int { return c.size }

// String describes the communicator.
func (c *mpiComm) String() string { return fmt.Sprintf("MPI rank %d of %d", c.rank, c.size) }

// AllReduce runs MPI_Allreduce in place (MPI_SUM, or MPI_MAX for Max;
// Mean divides the sum by Size).
func (c *mpiComm) AllReduce(buf []float32, op Op) error {
	op.check("AllReduce")
	for _, part := range split(buf) {
		err := c.collective("AllReduce", len(buf), func() C.int {
			return C.dg_allreduce(ptr(part), C.int(len(part)), boolInt(op == Max))
		})
		if err != nil {
			return err
		}
	}
	if op == Mean && c.size > 1 {
		s := float32(c.size)
		for i := range buf {
			buf[i] /= s
		}
	}
	return nil
}

// Broadcast runs MPI_Bcast.
func (c *mpiComm) Broadcast(buf []float32, root int) error {
	checkRoot(root, c.size)
	for _, part := range split(buf) {
		err := c.collective("Broadcast", len(buf), func() C.int {
			return C.dg_bcast(ptr(part), C.int(len(part)), C.int(root))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// split cuts buf into parts that one MPI call takes (always one part, maybe
// empty, for a short buf).
func split(buf []float32) [][]float32 {
	parts := [][]float32{buf[:min(len(buf), maxCount)]}
	for lo := maxCount; lo < len(buf); lo += maxCount {
		parts = append(parts, buf[lo:min(lo+maxCount, len(buf))])
	}
	return parts
}

// AllGather runs MPI_Allgather.
func (c *mpiComm) AllGather(send, recv []float32) error {
	checkGather(send, recv, c.size)
	if len(send) > maxCount {
		panic(fmt.Sprintf("dist: AllGather: %d values per rank; at most %d", len(send), maxCount))
	}
	return c.collective("AllGather", len(send), func() C.int {
		return C.dg_allgather(ptr(send), ptr(recv), C.int(len(send)))
	})
}

// Barrier runs MPI_Barrier.
func (c *mpiComm) Barrier() error {
	return c.collective("Barrier", 0, func() C.int { return C.dg_barrier() })
}

// collective runs call (a blocking MPI collective) on the MPI thread and
// waits for it until it returns, the timeout passes or the context is done.
// In the last two cases the call goes on in the background, holding the
// buffers it was given (so they stay alive): the communicator is broken,
// and the program should exit.
func (c *mpiComm) collective(op string, n int, call func() C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return ErrClosed
	case c.broken != nil:
		return fmt.Errorf("dist: rank %d of %d: %s: the communicator is unusable after an earlier failure: %w", c.rank, c.size, op, c.broken)
	}
	start := time.Now()
	fail := func(err error) error {
		c.broken = &Error{Rank: c.rank, Size: c.size, Op: op, Len: n, After: time.Since(start), Err: err}
		return c.broken
	}
	if err := c.ctx.Err(); err != nil {
		return fail(fmt.Errorf("%w: %w", errCancelled, context.Cause(c.ctx)))
	}
	var rc C.int
	returned := make(chan struct{})
	c.calls <- func() {
		rc = call()
		close(returned)
	}
	var expired <-chan time.Time
	if c.timeout > 0 {
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-returned:
		if rc != C.MPI_SUCCESS {
			return fail(errors.New(mpiErrorString(rc)))
		}
		return nil
	case <-expired:
		c.stuck = returned
		return fail(ErrTimeout)
	case <-c.ctx.Done():
		c.stuck = returned
		return fail(fmt.Errorf("%w: %w", errCancelled, context.Cause(c.ctx)))
	}
}

// drainTimeout bounds how long Close waits for a collective that timed out
// or was interrupted to return (it does when the other ranks join it late).
const drainTimeout = 10 * time.Second

// Close finalizes MPI (see Comm and Error).
func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if c.stuck != nil {
		select {
		case <-c.stuck:
		case <-time.After(drainTimeout):
			return fmt.Errorf("dist: rank %d of %d: Close: the collective that failed earlier (%v) still waits for the other ranks, so MPI cannot be finalized; exit with a non-zero status, and mpirun ends the other ranks", c.rank, c.size, c.broken)
		}
	}
	done := make(chan C.int, 1)
	c.calls <- func() { done <- C.dg_finalize() }
	close(c.calls)
	limit := max(c.timeout, time.Minute)
	select {
	case rc := <-done:
		if rc != C.MPI_SUCCESS {
			return fmt.Errorf("dist: rank %d of %d: Close: MPI_Finalize: %s", c.rank, c.size, mpiErrorString(rc))
		}
		return nil
	case <-time.After(limit):
		return fmt.Errorf("dist: rank %d of %d: Close: MPI_Finalize did not return within %v; another rank has probably died or hangs", c.rank, c.size, limit)
	}
}

func ptr(b []float32) *C.float {
	if len(b) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&b[0]))
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func mpiErrorString(rc C.int) string {
	buf := (*C.char)(C.calloc(C.MPI_MAX_ERROR_STRING+1, 1))
	defer C.free(unsafe.Pointer(buf))
	C.dg_error_string(rc, buf)
	return fmt.Sprintf("%s (MPI error %d)", C.GoString(buf), int(rc))
}
