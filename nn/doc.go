// Package nn holds deepgo's module conventions and the basic layers built on
// the autograd engine: trainable parameters and their PyTorch state_dict
// names, train/eval mode and freezing over a whole model, weight
// initialisation, Linear, Sequential, activations, Dropout, convolutions,
// normalisation, pooling, Embedding, GRU and LSTM, and safetensors I/O that
// PyTorch reads and writes.
//
// # Models are plain structs
//
// A model is an ordinary Go struct. Its trainable tensors are *Parameter
// fields, its non-trainable saved state *Buffer fields, and its layers are
// fields holding other structs (by pointer or by value), slices and arrays
// of them, maps of them with string (or integer) keys, or interfaces such as
// Layer. The functions of this package (NamedParameters, StateDict, Train,
// Freeze, Save, Load, ...) find them by walking the struct with reflection,
// so a layer needs no registration code:
//
//	type Block struct {
//		QKV     *nn.Linear // "qkv.weight", "qkv.bias"
//		OutProj *nn.Linear // "out_proj.weight", "out_proj.bias"
//	}
//	type Model struct {
//		Blocks []*Block    // "blocks.0.qkv.weight", ...
//		Head   *nn.Linear `nn:"fc"` // "fc.weight", "fc.bias"
//		cache  []float32  // no parameters inside: ignored
//	}
//
// Names follow PyTorch's state_dict: the path of field names from the model
// to the tensor joined with dots, each field name in snake_case (QKV → qkv,
// OutProj → out_proj, Norm1 → norm1, HTTPServer → http_server), slice and
// array elements by index, map entries by key in sorted order. A struct tag
// overrides a name:
//
//	`nn:"name"`     use name instead of the snake_case field name
//	`nn:"-"`        skip the field and everything under it
//	`nn:",inline"`  add no name component (Sequential's layers are "0", "1", ...)
//
// An embedded (anonymous) struct field is inlined as well, like a Python
// subclass: the fields of an embedded Linear are "weight" and "bias".
//
// A slice or array of NamedParameter (or NamedBuffer) registers each entry
// under its own Name, in order, as torch's register_parameter does: the
// recurrent layers hold "weight_ih_l0", "weight_hh_l0", ... this way, in an
// `nn:",inline"` field.
//
// Unexported fields are walked too, as PyTorch registers every attribute:
// a model declared as struct{ fc1, fc2 *nn.Linear } in package main has the
// parameters "fc1.weight", ... . The walker only reads such fields (and
// writes through the pointers it finds there), never assigns them. Plain
// *autograd.Tensor fields, RNGs, functions and channels are not parameters
// and are never walked into. A pointer reached twice (shared layers) is
// walked under each name, as torch's state_dict does, while
// NamedParameters lists each parameter once under its first name; cycles
// of pointers are cut.
//
// # Train and eval mode
//
// A layer whose behaviour depends on the mode embeds Mode (Dropout,
// DropPath, BatchNorm1d/2d, and GRU and LSTM for their dropout between
// layers do): Train and Eval set every Mode found in the model, and the
// layer checks Training(). The zero Mode is training mode, as PyTorch
// modules start in training mode. Pass models to Train and Eval by pointer
// so that the walker can set the modes it finds.
//
// # Errors
//
// Shape and argument errors are programmer errors and panic, naming the
// layer and the shapes involved. Anything that touches files returns an
// error.
//
// # Concurrency
//
// The functions here read the model struct while walking it; do not change
// the model's structure concurrently. Forward passes follow the autograd
// package's rule: one graph per goroutine at a time.
package nn
