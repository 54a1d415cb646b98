package data

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// IDX is the content of an IDX file (the format of MNIST and
// Fashion-MNIST): an array of unsigned bytes with its dimensions.
type IDX struct {
	// Dims are the array's dimensions, outermost first: [n, rows, cols]
	// for images, [n] for labels.
	Dims []int
	// Data holds the ∏Dims values in row-major order.
	Data []byte
}

// maxIDXBytes bounds the size an IDX header may announce (2 GiB), so a
// corrupt header is reported rather than allocated.
const maxIDXBytes = 1 << 31

// ReadIDX reads an IDX file of unsigned bytes (element type 0x08), raw or
// gzip-compressed (recognised by its first bytes, whatever the file's
// name). A missing, corrupt or truncated file, or one with data after the
// array, gives an error that names it.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("data: %s: corrupt gzip header (%v); download the file again", path, err)
		}
		defer z.Close()
		r = bufio.NewReaderSize(z, 1<<16)
	}
	idx, err := readIDX(r)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return idx, nil
}

func readIDX(r io.Reader) (*IDX, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fixEOF(err, "the file is empty or shorter than the 4-byte IDX header; it is not an IDX file, or it is incomplete: download it again")
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, fmt.Errorf("not an IDX file (first bytes % x, want 00 00); check that the path names an IDX file such as train-images-idx3-ubyte.gz", head[:])
	}
	if head[2] != 0x08 {
		return nil, fmt.Errorf("IDX element type 0x%02x is not supported; only unsigned bytes (0x08), as in MNIST, are", head[2])
	}
	nd := int(head[3])
	if nd == 0 {
		return nil, fmt.Errorf("IDX header has 0 dimensions")
	}
	dimBytes := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, dimBytes); err != nil {
		return nil, fixEOF(err, fmt.Sprintf("truncated in the header (%d dimensions announced); download the file again", nd))
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(dimBytes[4*i:]))
		if dims[i] == 0 {
			return nil, fmt.Errorf("IDX header has dimensions %v with a zero", dims)
		}
		total *= dims[i]
		if total > maxIDXBytes {
			return nil, fmt.Errorf("IDX header announces more than %d bytes (dimensions %v); the file is corrupt", maxIDXBytes, dims)
		}
	}
	buf := make([]byte, total)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("truncated: the header announces %d bytes of data (dimensions %v) but the file holds %d; it is incomplete: download it again", total, dims, n)
		}
		return nil, fixEOF(err, "read failed after "+fmt.Sprint(n)+" bytes of data")
	}
	var extra [1]byte
	if m, err := r.Read(extra[:]); m > 0 {
		rest, _ := io.Copy(io.Discard, r)
		return nil, fmt.Errorf("%d bytes follow the %d bytes of data announced by the header (dimensions %v); the file is corrupt or not what its name says", rest+int64(m), total, dims)
	} else if err != nil && err != io.EOF {
		return nil, fixEOF(err, "read failed")
	}
	return &IDX{Dims: dims, Data: buf}, nil
}

// fixEOF turns a short read into an error with the given explanation, and
// reports a corrupt gzip stream as such.
func fixEOF(err error, what string) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New(what)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, new(flate.CorruptInputError)):
		return fmt.Errorf("corrupt gzip data (%v); download the file again", err)
	}
	return fmt.Errorf("%s: %v", what, err)
}
