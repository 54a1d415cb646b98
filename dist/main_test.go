package dist

import (
	"os"
	"testing"
)

// world is the communicator of the MPI tests: set when the test binary was
// built with the mpi tag and started by mpirun (see openWorld), nil
// otherwise.
var world Comm

func TestMain(m *testing.M) {
	closeWorld := openWorld()
	code := m.Run()
	if err := closeWorld(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// needWorld returns the MPI communicator, or skips the test when there is
// none.
func needWorld(t *testing.T) Comm {
	t.Helper()
	if world == nil {
		t.Skip("needs the mpi build tag and mpirun: go test -tags mpi -c -o /tmp/dist.test ./dist && mpirun --allow-run-as-root --oversubscribe -np 2 /tmp/dist.test -test.run MPI")
	}
	return world
}
