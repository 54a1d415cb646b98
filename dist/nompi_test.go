//go:build !mpi || !cgo

package dist

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openWorld leaves world nil: this build has no MPI.
func openWorld() (closeWorld func() error) { return func() error { return nil } }

func TestOpenWithoutMPI(t *testing.T) {
	assert.False(t, MPI)
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	t.Setenv("PMI_SIZE", "")
	t.Setenv("PMIX_SIZE", "")
	c, err := Open(context.Background(), Options{})
	require.NoError(t, err)
	assert.Equal(t, Single{}, c)

	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	_, err = Open(context.Background(), Options{})
	assert.ErrorContains(t, err, "one of 2 started by an MPI launcher, but the program was built without MPI; rebuild it with `go build -tags mpi` and cgo enabled")
}
