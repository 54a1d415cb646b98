//go:build mpi && cgo

package dist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/deepgo/deepgo/train"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testTimeout is the collectives' timeout in the MPI tests,
// $DEEPGO_DIST_TEST_TIMEOUT (a Go duration) or a minute.
func testTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("DEEPGO_DIST_TEST_TIMEOUT")); err == nil {
		return d
	}
	return time.Minute
}

// openWorld opens MPI when mpirun started this test binary.
func openWorld() (closeWorld func() error) {
	if launched() <= 1 {
		return func() error { return nil }
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	c, err := Open(ctx, Options{Timeout: testTimeout()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	world = c
	return func() error {
		defer stop()
		err := c.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return err
	}
}

// fault returns the fault test to run ($DEEPGO_DIST_FAULT), skipping the
// test when it is not name: a fault test leaves the communicator broken or
// the job ended, so .ci/run runs each in a job of its own.
func fault(t *testing.T, name string) Comm {
	t.Helper()
	c := needWorld(t)
	if os.Getenv("DEEPGO_DIST_FAULT") != name {
		t.Skipf("a fault test: run it alone with DEEPGO_DIST_FAULT=%s (see .ci/run)", name)
	}
	return c
}

func TestMPICollectives(t *testing.T) {
	c := needWorld(t)
	rank, size := c.Rank(), c.Size()
	require.GreaterOrEqual(t, size, 2)

	const n = 1000
	fill := func() []float32 {
		b := make([]float32, n)
		for i := range b {
			b[i] = float32((rank+1)*(i%7+1)) + float32(i)/8
		}
		return b
	}
	sumOf := func(i int) (sum, mx float32) {
		for r := range size {
			v := float32((r+1)*(i%7+1)) + float32(i)/8
			sum += v
			mx = max(mx, v)
		}
		return
	}
	for _, op := range []Op{Sum, Mean, Max} {
		b := fill()
		require.NoError(t, c.AllReduce(b, op))
		for i, v := range b {
			sum, mx := sumOf(i)
			want := map[Op]float32{Sum: sum, Mean: sum / float32(size), Max: mx}[op]
			require.Equal(t, want, v, "%v [%d]", op, i)
		}
	}

	root := size - 1
	b := fill()
	require.NoError(t, c.Broadcast(b, root))
	for i, v := range b {
		require.Equal(t, float32(size*(i%7+1))+float32(i)/8, v)
	}

	send := []float32{float32(rank), float32(10 * rank), -1}
	recv := make([]float32, 3*size)
	require.NoError(t, c.AllGather(send, recv))
	for r := range size {
		assert.Equal(t, []float32{float32(r), float32(10 * r), -1}, recv[3*r:3*r+3])
	}

	require.NoError(t, c.Barrier())
	require.NoError(t, c.AllReduce(nil, Sum), "an empty buffer")
	require.NoError(t, c.Broadcast(nil, 0))
	require.NoError(t, c.AllGather(nil, nil))

	big := make([]float32, 4<<20)
	for i := range big {
		big[i] = float32(rank + 1)
	}
	require.NoError(t, c.AllReduce(big, Mean))
	want := float32(size+1) / 2
	for i, v := range big {
		if v != want {
			t.Fatalf("16 MB mean [%d] = %v, want %v", i, v, want)
		}
	}
	assert.Panics(t, func() { _ = c.Broadcast(b, size) })
	assert.Panics(t, func() { _ = c.AllGather(send, recv[1:]) })
	assert.Panics(t, func() { _ = c.AllReduce(b, Op(7)) })
}

// TestMPIHungRank: rank 1 joins a collective long after the timeout; rank
// 0 must fail with a clear error when the timeout passes, not wait.
func TestMPIHungRank(t *testing.T) {
	c := fault(t, "hang")
	timeout := testTimeout()
	buf := []float32{1, 2, 3}
	if c.Rank() != 0 {
		// Late: the collective completes when rank 0 drains it in Close.
		time.Sleep(3 * timeout)
		require.NoError(t, c.AllReduce(buf, Sum))
		return
	}
	start := time.Now()
	err := c.AllReduce(buf, Sum)
	took := time.Since(start)
	require.Error(t, err)
	fmt.Fprintln(os.Stderr, "rank 0 got, as expected:", err)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Equal(t, "AllReduce", e.Op)
	assert.Contains(t, err.Error(), "rank 0 of")
	assert.Contains(t, err.Error(), "timed out after")
	assert.Less(t, took, timeout+2*time.Second)
	assert.GreaterOrEqual(t, took, timeout)

	// The communicator refuses every later call at once.
	start = time.Now()
	err = c.Barrier()
	assert.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "unusable after an earlier failure")
	assert.Less(t, time.Since(start), time.Second)
}

// TestMPIDeadRank: rank 1 exits without a word to MPI. The job must end,
// with an error from rank 0 that says why, well before any test timeout;
// .ci/run checks the exit status and the output.
func TestMPIDeadRank(t *testing.T) {
	c := fault(t, "exit")
	require.NoError(t, c.Barrier())
	if c.Rank() == 1 {
		fmt.Fprintln(os.Stderr, "rank 1: exiting on purpose, without MPI_Finalize")
		os.Exit(3)
	}
	for {
		// mpirun stops rank 0 (SIGTERM, which the test's context turns into
		// an error) when it sees rank 1 gone; without that the timeout ends
		// the wait.
		err := c.Barrier()
		if err == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fmt.Fprintln(os.Stderr, "rank 0 got, as expected:", err)
		var e *Error
		require.True(t, errors.As(err, &e), "%T", err)
		assert.Contains(t, err.Error(), "dist: rank 0 of 2: Barrier")
		return
	}
}

// TestMPIDataParallelMatchesBigBatch is the acceptance test of
// data-parallel training: N ranks with batch B each end 20 steps with the
// parameters, to 1e-5, of one process with batch N·B over the same data
// order, and record the same metrics.
func TestMPIDataParallelMatchesBigBatch(t *testing.T) {
	c := needWorld(t)
	n := c.Size()
	const batch, steps = 8, 20
	trainSet, valSet := testImages(t, 96*n, 1), testImages(t, 48*n, 2)
	ref, refTr, _, err := trainNet(nil, trainSet, valSet, n*batch, steps, 0, "")
	require.NoError(t, err)
	for _, bucketBytes := range []int{300, 0} {
		t.Run(fmt.Sprint("buckets of ", bucketBytes, " bytes"), func(t *testing.T) {
			dir := t.TempDir()
			m, tr, dp, err := trainNet(c, trainSet, valSet, batch, steps, bucketBytes, dir)
			require.NoError(t, err)
			t.Logf("rank %d of %d: %d steps of %d examples per rank, %+v", c.Rank(), n, tr.StepCount(), batch, dp.Stats())
			checkMatchesBigBatch(t, ref, refTr, m, tr)
			cks, err := train.Checkpoints(dir)
			require.NoError(t, err)
			if c.Rank() == 0 {
				assert.Len(t, cks, 2, "rank 0 writes the checkpoints")
			} else {
				assert.Empty(t, cks, "only rank 0 writes checkpoints")
			}
		})
	}
}

func TestMPIModelMismatch(t *testing.T) {
	c := needWorld(t)
	channels := 4
	if c.Rank() == 1 {
		channels = 5
	}
	_, err := NewDataParallel(c, newTestNet(1, channels), DataParallelOptions{})
	require.Error(t, err)
	fmt.Fprintf(os.Stderr, "rank %d got, as expected: %v\n", c.Rank(), err)
	assert.Contains(t, err.Error(), fmt.Sprintf("rank %d of %d", c.Rank(), c.Size()))
	if c.Rank() == 1 {
		assert.Contains(t, err.Error(), `this rank has "parameter conv.weight [5 1 3 3] trainable=true" where rank 0 has "parameter conv.weight [4 1 3 3] trainable=true"`)
	} else {
		assert.Contains(t, err.Error(), "the model differs between ranks")
	}
	require.NoError(t, c.Barrier(), "the communicator still works")
}

// TestMPIThroughput measures the all-reduce (Sum) of 4 MB and 100 MB
// buffers, and of the 20,490 gradients (80 KB) of the quickstart's CNN (set
// DEEPGO_DIST_BENCH=1), and prints the median and the best time of rank 0.
func TestMPIThroughput(t *testing.T) {
	c := needWorld(t)
	if os.Getenv("DEEPGO_DIST_BENCH") == "" {
		t.Skip("a benchmark: set DEEPGO_DIST_BENCH=1")
	}
	n := c.Size()
	for _, size := range []int{20490 * 4, 4 << 20, 100 << 20} {
		buf := make([]float32, size/4)
		iters := max(5, 400<<20/size)
		require.NoError(t, c.AllReduce(buf, Sum)) // warm up
		times := make([]time.Duration, iters)
		for i := range times {
			require.NoError(t, c.Barrier())
			start := time.Now()
			require.NoError(t, c.AllReduce(buf, Sum))
			times[i] = time.Since(start)
		}
		slices.Sort(times)
		if c.Rank() == 0 {
			for _, x := range []struct {
				name string
				d    time.Duration
			}{{"median", times[iters/2]}, {"best", times[0]}} {
				algbw := float64(len(buf)*4) / x.d.Seconds() / 1e9
				fmt.Printf("allreduce %9d bytes over %d ranks, %-6s of %4d: %8.3f ms  algbw %6.2f GB/s  busbw %6.2f GB/s\n",
					size, n, x.name, iters, x.d.Seconds()*1e3, algbw, algbw*2*float64(n-1)/float64(n))
			}
		}
	}
}
