//go:build !mpi || !cgo

package dist

import (
	"context"
	"fmt"
)

// MPI reports whether this build has the Open MPI communicator (the build
// tag mpi, with cgo enabled).
const MPI = false

// Open returns the communicator of the job this process belongs to. This
// build has no MPI (it was built without the build tag mpi, or with cgo
// disabled), so Open returns Single; it returns an error instead when mpirun (or another MPI
// launcher) started this process as one of several, which would otherwise
// train alone on every rank. ctx and opts matter only to the MPI build.
func Open(ctx context.Context, opts Options) (Comm, error) {
	if n := launched(); n > 1 {
		return nil, fmt.Errorf("dist: this process is one of %d started by an MPI launcher, but the program was built without MPI; rebuild it with `go build -tags mpi` and cgo enabled (Open MPI's development files needed, e.g. Debian's libopenmpi-dev)", n)
	}
	return Single{}, nil
}
