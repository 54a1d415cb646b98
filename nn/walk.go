package nn

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unsafe"

	"github.com/deepgo/deepgo/autograd"
)

var (
	paramType      = reflect.TypeFor[Parameter]()
	bufferType     = reflect.TypeFor[Buffer]()
	namedParamType = reflect.TypeFor[NamedParameter]()
	namedBufType   = reflect.TypeFor[NamedBuffer]()
	modeType       = reflect.TypeFor[Mode]()
	modeSetterType = reflect.TypeFor[ModeSetter]()
	autogradPkg    = reflect.TypeFor[autograd.Tensor]().PkgPath()
)

// visitor receives what the walker finds. Any callback may be nil.
type visitor struct {
	param  func(name string, p *Parameter)
	buffer func(name string, b *Buffer)
	// mode receives every addressable value whose pointer implements
	// ModeSetter (Mode itself included); fn names the caller for panics.
	mode func(name string, m ModeSetter)
	fn   string
}

// ptrKey identifies a pointer on the current path: the address and the
// type, since a struct and its first field share an address.
type ptrKey struct {
	p unsafe.Pointer
	t reflect.Type
}

type walker struct {
	v      visitor
	onPath map[ptrKey]bool
}

// walk visits model, which should be a pointer to a struct (or any value
// holding pointers to layers). A nil model is a programmer error.
func walk(fn string, model any, v visitor) {
	if model == nil {
		panic(fmt.Sprintf("nn: %s: nil model", fn))
	}
	v.fn = fn
	w := &walker{v: v, onPath: map[ptrKey]bool{}}
	w.walk(reflect.ValueOf(model), "")
}

func join(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	}
	return prefix + "." + name
}

func (w *walker) walk(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		et := v.Type().Elem()
		switch et {
		case paramType:
			p := (*Parameter)(v.UnsafePointer())
			if p.Tensor != nil && w.v.param != nil {
				w.v.param(name, p)
			}
			return
		case bufferType:
			b := (*Buffer)(v.UnsafePointer())
			if b.Tensor != nil && w.v.buffer != nil {
				w.v.buffer(name, b)
			}
			return
		}
		if !mayHold(et) {
			return
		}
		k := ptrKey{v.UnsafePointer(), et}
		if w.onPath[k] {
			return
		}
		w.onPath[k] = true
		w.walk(v.Elem(), name)
		delete(w.onPath, k)
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), name)
		}
	case reflect.Struct:
		w.walkStruct(v, name)
	case reflect.Slice, reflect.Array:
		et := v.Type().Elem()
		if !mayHold(et) {
			return
		}
		if et == namedParamType || et == namedBufType {
			// Entries registered by name (as torch's register_parameter
			// and register_buffer): each under its own Name.
			for i := 0; i < v.Len(); i++ {
				e := v.Index(i)
				w.walk(e.Field(1), join(name, e.Field(0).String()))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), join(name, strconv.Itoa(i)))
		}
	case reflect.Map:
		if !mayHold(v.Type().Elem()) {
			return
		}
		for _, k := range sortedKeys(w.v.fn, name, v) {
			w.walk(v.MapIndex(k.v), join(name, k.s))
		}
	}
}

func (w *walker) walkStruct(v reflect.Value, name string) {
	t := v.Type()
	switch t {
	case paramType, bufferType:
		// A Parameter or Buffer held by value: use its address when there
		// is one, otherwise a copy (which still shares the tensor).
		var ptr unsafe.Pointer
		if v.CanAddr() {
			ptr = v.Addr().UnsafePointer()
		} else if t == paramType {
			ptr = unsafe.Pointer(&Parameter{Tensor: (*autograd.Tensor)(v.Field(0).UnsafePointer())})
		} else {
			ptr = unsafe.Pointer(&Buffer{Tensor: (*autograd.Tensor)(v.Field(0).UnsafePointer())})
		}
		w.walk(reflect.NewAt(t, ptr), name)
		return
	}
	if w.v.mode != nil && reflect.PointerTo(t).Implements(modeSetterType) {
		if !v.CanAddr() {
			panic(fmt.Sprintf("nn: %s: the %s at %q is held by value where it cannot be changed (in a map, an interface or a model passed by value); pass the model by pointer and hold layers by pointer", w.v.fn, t, nameOrRoot(name)))
		}
		ms := reflect.NewAt(t, v.Addr().UnsafePointer()).Interface().(ModeSetter)
		w.v.mode(name, ms)
	}
	if t == modeType {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fname, skip := fieldName(f)
		if skip || !mayHold(f.Type) {
			continue
		}
		w.walk(v.Field(i), join(name, fname))
	}
}

func nameOrRoot(name string) string {
	if name == "" {
		return "model root"
	}
	return name
}

// fieldName returns the name component of a struct field ("" inlines it)
// and whether the field is skipped.
func fieldName(f reflect.StructField) (string, bool) {
	tag, hasTag := f.Tag.Lookup("nn")
	name, opts, _ := strings.Cut(tag, ",")
	if hasTag && name == "-" && opts == "" {
		return "", true
	}
	if opts == "inline" {
		return "", false
	}
	if hasTag && opts != "" {
		panic(fmt.Sprintf("nn: field %s: unknown option %q in tag `nn:%q` (only \"inline\" exists)", f.Name, opts, tag))
	}
	if name != "" {
		return name, false
	}
	if f.Anonymous {
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft != paramType && ft != bufferType && ft.Kind() == reflect.Struct {
			return "", false
		}
	}
	return SnakeCase(f.Name), false
}

type mapKey struct {
	v reflect.Value
	s string
	i int64
	u uint64
}

// sortedKeys returns a map's keys in order: strings lexically, integers
// numerically. Other key types cannot name a layer.
func sortedKeys(fn, name string, m reflect.Value) []mapKey {
	keys := make([]mapKey, 0, m.Len())
	kind := m.Type().Key().Kind()
	for _, k := range m.MapKeys() {
		mk := mapKey{v: k}
		switch {
		case kind == reflect.String:
			mk.s = k.String()
		case k.CanInt():
			mk.i = k.Int()
			mk.s = strconv.FormatInt(mk.i, 10)
		case k.CanUint():
			mk.u = k.Uint()
			mk.s = strconv.FormatUint(mk.u, 10)
		default:
			panic(fmt.Sprintf("nn: %s: map %q has keys of type %s; maps of layers need string or integer keys", fn, nameOrRoot(name), m.Type().Key()))
		}
		keys = append(keys, mk)
	}
	slices.SortFunc(keys, func(a, b mapKey) int {
		switch {
		case kind == reflect.String:
			return strings.Compare(a.s, b.s)
		case a.i != b.i:
			if a.i < b.i {
				return -1
			}
			return 1
		case a.u != b.u:
			if a.u < b.u {
				return -1
			}
			return 1
		}
		return 0
	})
	return keys
}

// holdCache remembers, per type, whether a value of it may lead to a
// Parameter, a Buffer or a ModeSetter.
var holdCache sync.Map // reflect.Type → bool

// mayHold reports whether walking a value of type t can find anything.
// Recursive types are answered conservatively (true).
func mayHold(t reflect.Type) bool {
	if v, ok := holdCache.Load(t); ok {
		return v.(bool)
	}
	r := computeHold(t, map[reflect.Type]bool{})
	holdCache.Store(t, r)
	return r
}

func computeHold(t reflect.Type, inProgress map[reflect.Type]bool) bool {
	if v, ok := holdCache.Load(t); ok {
		return v.(bool)
	}
	if inProgress[t] {
		return true
	}
	switch t {
	case paramType, bufferType, modeType:
		return true
	}
	if t.PkgPath() == autogradPkg && t.Name() != "" {
		return false
	}
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(modeSetterType) {
		return true
	}
	inProgress[t] = true
	defer delete(inProgress, t)
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return computeHold(t.Elem(), inProgress)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag, ok := f.Tag.Lookup("nn"); ok && tag == "-" {
				continue
			}
			if computeHold(f.Type, inProgress) {
				return true
			}
		}
	}
	return false
}

// SnakeCase converts a Go field name to the snake_case name PyTorch code
// would use: QKV → qkv, OutProj → out_proj, Norm1 → norm1, PosEmbed →
// pos_embed, HTTPServer → http_server, Conv2D → conv2d, fc1 → fc1.
// An underscore goes before an upper-case letter that follows a lower-case
// one, and before the last capital of an acronym followed by a lower-case
// letter.
func SnakeCase(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || ((unicode.IsUpper(prev) || unicode.IsDigit(prev)) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
