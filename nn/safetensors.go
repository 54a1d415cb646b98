package nn

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/deepgo/deepgo/autograd"
)

// The safetensors format (https://github.com/huggingface/safetensors): an
// 8-byte little-endian header length N, N bytes of JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the
// data that follows the header) plus an optional "__metadata__" map of
// strings, then the raw little-endian tensor data.

// maxHeaderSize bounds the JSON header, as the reference implementation does.
const maxHeaderSize = 100 << 20

// SafetensorsFile is the content of a safetensors file, converted to
// float32 tensors on the CPU.
type SafetensorsFile struct {
	// Tensors in the order of their data in the file.
	Tensors []NamedTensor
	// Dtypes gives each tensor's dtype in the file ("F32", "F16", "BF16",
	// "F64", "I64", ...), before conversion.
	Dtypes map[string]string
	// Metadata is the file's "__metadata__" map (nil when absent).
	Metadata map[string]string
}

// Map returns the tensors by name.
func (f *SafetensorsFile) Map() map[string]*autograd.Tensor {
	m := make(map[string]*autograd.Tensor, len(f.Tensors))
	for _, nt := range f.Tensors {
		m[nt.Name] = nt.Tensor
	}
	return m
}

type headerEntry struct {
	Dtype       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// dtypeSize gives the element size of each dtype ReadSafetensors converts.
var dtypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// isFloatDtype reports whether a dtype can be loaded into a Parameter.
func isFloatDtype(d string) bool { return d == "F32" || d == "F64" || d == "F16" || d == "BF16" }

// WriteSafetensors writes tensors as a safetensors file to w, in the given
// order, as F32, with metadata (may be nil) as "__metadata__". Names must
// be unique and non-empty. Tensors may live on any device; they are copied
// to the host.
func WriteSafetensors(w io.Writer, tensors []NamedTensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	off := 0
	for _, nt := range tensors {
		if nt.Name == "" || nt.Name == "__metadata__" {
			return fmt.Errorf("nn: safetensors: invalid tensor name %q", nt.Name)
		}
		if nt.Tensor == nil {
			return fmt.Errorf("nn: safetensors: tensor %q is nil", nt.Name)
		}
		if _, dup := header[nt.Name]; dup {
			return fmt.Errorf("nn: safetensors: tensor name %q appears twice", nt.Name)
		}
		n := 4 * nt.Tensor.Numel()
		shape := nt.Tensor.Shape()
		header[nt.Name] = headerEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]int{off, off + n}}
		off += n
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("nn: safetensors: encoding header: %w", err)
	}
	// Pad the header with spaces so that the data starts 8-byte aligned,
	// as the reference writer does.
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("nn: safetensors: writing header: %w", err)
	}
	if _, err := w.Write(js); err != nil {
		return fmt.Errorf("nn: safetensors: writing header: %w", err)
	}
	var buf []byte
	for _, nt := range tensors {
		data := nt.Tensor.Data()
		buf = slices.Grow(buf[:0], 4*len(data))[:4*len(data)]
		for i, v := range data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("nn: safetensors: writing tensor %q: %w", nt.Name, err)
		}
	}
	return nil
}

// ReadSafetensors reads a whole safetensors file from r. F32 tensors are
// read as they are; F64, F16, BF16 and the integer and boolean dtypes are
// converted to float32 (integers beyond 2²⁴ lose precision). It returns an
// error for a malformed file or an unsupported dtype.
func ReadSafetensors(r io.Reader) (*SafetensorsFile, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("nn: safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderSize {
		return nil, fmt.Errorf("nn: safetensors: header length %d exceeds %d bytes; is this a safetensors file?", n, maxHeaderSize)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("nn: safetensors: reading %d-byte header: %w", n, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("nn: safetensors: header is not a JSON object: %w", err)
	}
	f := &SafetensorsFile{Dtypes: make(map[string]string, len(raw))}
	type item struct {
		name string
		e    headerEntry
	}
	items := make([]item, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("nn: safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("nn: safetensors: entry %q: %w", name, err)
		}
		size, ok := dtypeSize[e.Dtype]
		if !ok {
			return nil, fmt.Errorf("nn: safetensors: tensor %q has dtype %q; supported are F32, F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL", name, e.Dtype)
		}
		count := 1
		for _, s := range e.Shape {
			if s < 0 {
				return nil, fmt.Errorf("nn: safetensors: tensor %q has negative dimension in shape %v", name, e.Shape)
			}
			count *= s
		}
		if len(e.Shape) > autograd.MaxDims {
			return nil, fmt.Errorf("nn: safetensors: tensor %q has %d dimensions; at most %d are supported", name, len(e.Shape), autograd.MaxDims)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end-b != count*size {
			return nil, fmt.Errorf("nn: safetensors: tensor %q: data_offsets %v do not hold %d elements of %s", name, e.DataOffsets, count, e.Dtype)
		}
		items = append(items, item{name, e})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].e.DataOffsets[0] != items[j].e.DataOffsets[0] {
			return items[i].e.DataOffsets[0] < items[j].e.DataOffsets[0]
		}
		return items[i].name < items[j].name
	})
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nn: safetensors: reading data: %w", err)
	}
	for _, it := range items {
		if it.e.DataOffsets[1] > len(data) {
			return nil, fmt.Errorf("nn: safetensors: tensor %q ends at byte %d but the data has %d bytes (truncated file?)", it.name, it.e.DataOffsets[1], len(data))
		}
		vals := decode(it.e.Dtype, data[it.e.DataOffsets[0]:it.e.DataOffsets[1]])
		shape := it.e.Shape
		if shape == nil {
			shape = []int{}
		}
		f.Tensors = append(f.Tensors, NamedTensor{Name: it.name, Tensor: autograd.New(vals, shape...)})
		f.Dtypes[it.name] = it.e.Dtype
	}
	return f, nil
}

// decode converts little-endian data of a dtype to float32.
func decode(dtype string, b []byte) []float32 {
	le := binary.LittleEndian
	n := len(b) / dtypeSize[dtype]
	out := make([]float32, n)
	for i := range out {
		switch dtype {
		case "F32":
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		case "F64":
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		case "F16":
			out[i] = float16ToFloat32(le.Uint16(b[2*i:]))
		case "BF16":
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		case "I64":
			out[i] = float32(int64(le.Uint64(b[8*i:])))
		case "I32":
			out[i] = float32(int32(le.Uint32(b[4*i:])))
		case "I16":
			out[i] = float32(int16(le.Uint16(b[2*i:])))
		case "I8":
			out[i] = float32(int8(b[i]))
		case "U8":
			out[i] = float32(b[i])
		case "BOOL":
			if b[i] != 0 {
				out[i] = 1
			}
		}
	}
	return out
}

// float16ToFloat32 converts an IEEE 754 half-precision value exactly.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: frac·2⁻²⁴.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// saveWriterHook wraps the writer of SaveSafetensors; tests use it to fail
// a save midway.
var saveWriterHook func(io.Writer) io.Writer

// SaveSafetensors writes tensors to the file at path (see WriteSafetensors)
// atomically: it writes a temporary file in the same directory, syncs it to
// disk and renames it over path, so a save that fails part-way leaves any
// previous file at path intact.
func SaveSafetensors(path string, tensors []NamedTensor, metadata map[string]string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("nn: save %s: is a directory", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if saveWriterHook != nil {
		w = saveWriterHook(w)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := WriteSafetensors(bw, tensors, metadata); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	// Make the rename itself durable; not every system can sync a
	// directory, so a failure here is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadSafetensors reads the safetensors file at path (see ReadSafetensors).
func LoadSafetensors(path string) (*SafetensorsFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	defer fh.Close()
	f, err := ReadSafetensors(bufio.NewReaderSize(fh, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("nn: load %s: %w", path, err)
	}
	return f, nil
}

// Save writes the model's state_dict (parameters and buffers, see
// NamedStateDict) to a safetensors file at path, atomically (see
// SaveSafetensors), with optional metadata. PyTorch reads the file with
// safetensors.torch.load_file and load_state_dict.
func Save(path string, model any, metadata map[string]string) error {
	return SaveSafetensors(path, NamedStateDict(model), metadata)
}

// LoadResult lists the state_dict entries a non-strict load skipped.
type LoadResult struct {
	// Missing lists model entries the source does not have (left as they
	// were).
	Missing []string
	// Unexpected lists source entries the model does not have (ignored).
	Unexpected []string
}

// LoadError reports every problem found while loading a state_dict into a
// model. Nothing is loaded when it is returned.
type LoadError struct {
	// Source names where the tensors came from (a file path, or
	// "state_dict").
	Source string
	// Missing and Unexpected are as in LoadResult; they are errors only in
	// a strict load.
	Missing, Unexpected []string
	// Mismatched describes each entry whose shape or dtype does not fit
	// the model, as "name: ...".
	Mismatched []string
}

// Error lists every missing, unexpected and mismatched entry.
func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nn: loading %s into the model failed", e.Source)
	list := func(what string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(&b, "; %d %s: %s", len(names), what, strings.Join(names, ", "))
		}
	}
	list("missing (in the model, not in the source)", e.Missing)
	list("unexpected (in the source, not in the model)", e.Unexpected)
	list("mismatched", e.Mismatched)
	if len(e.Mismatched) == 0 {
		b.WriteString(" (load with strict=false to skip missing and unexpected entries)")
	}
	return b.String()
}

// LoadStateDict copies the tensors of sd into the model's parameters and
// buffers by name, as torch's load_state_dict. It first checks every entry:
// shapes must match exactly, and in strict mode the names must match too.
// On any problem it loads nothing and returns a *LoadError listing all of
// them. In non-strict mode, missing and unexpected entries are skipped and
// reported in the result. Values are copied to each tensor's own device.
func LoadStateDict(model any, sd map[string]*autograd.Tensor, strict bool) (LoadResult, error) {
	return loadInto(model, sd, nil, "state_dict", strict)
}

// Load reads a safetensors file and loads it into the model (see
// LoadStateDict). Tensors of dtype F64, F16 and BF16 are converted to
// float32; a parameter given integer or boolean data is a mismatch, a
// buffer accepts it converted.
func Load(path string, model any, strict bool) (LoadResult, error) {
	f, err := LoadSafetensors(path)
	if err != nil {
		return LoadResult{}, err
	}
	return loadInto(model, f.Map(), f.Dtypes, path, strict)
}

func loadInto(model any, sd map[string]*autograd.Tensor, dtypes map[string]string, source string, strict bool) (LoadResult, error) {
	type target struct {
		t       *autograd.Tensor
		isParam bool
	}
	var names []string
	targets := map[string]target{}
	walk("LoadStateDict", model, visitor{
		param: func(name string, p *Parameter) {
			names = append(names, name)
			targets[name] = target{p.Tensor, true}
		},
		buffer: func(name string, b *Buffer) {
			names = append(names, name)
			targets[name] = target{b.Tensor, false}
		},
	})
	e := &LoadError{Source: source}
	for _, name := range names {
		tg := targets[name]
		src, ok := sd[name]
		if !ok {
			e.Missing = append(e.Missing, name)
			continue
		}
		if src == nil {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: nil tensor", name))
			continue
		}
		if !slices.Equal(src.Shape(), tg.t.Shape()) {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: shape %v in the source, %v in the model", name, src.Shape(), tg.t.Shape()))
			continue
		}
		if d, ok := dtypes[name]; ok && tg.isParam && !isFloatDtype(d) {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: dtype %s in the source, a float32 parameter in the model", name, d))
		}
	}
	for name := range sd {
		if _, ok := targets[name]; !ok {
			e.Unexpected = append(e.Unexpected, name)
		}
	}
	sort.Strings(e.Unexpected)
	if len(e.Mismatched) > 0 || (strict && (len(e.Missing) > 0 || len(e.Unexpected) > 0)) {
		return LoadResult{Missing: e.Missing, Unexpected: e.Unexpected}, e
	}
	autograd.NoGrad(func() {
		for _, name := range names {
			if src, ok := sd[name]; ok {
				dst := targets[name].t
				dst.CopyFrom(src.To(dst.Device()))
			}
		}
	})
	return LoadResult{Missing: e.Missing, Unexpected: e.Unexpected}, nil
}
