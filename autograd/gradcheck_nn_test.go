package autograd_test

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

func rn(seed uint64, shape ...int) *ag.Tensor { return ag.NewRNG(seed).Normal(0, 1, shape...) }

func convCases() []gcase {
	c2 := func(name string, xs, ws []int, bias bool, o ag.Conv2dOptions) gcase {
		in := []*ag.Tensor{rn(1, xs...), rn(2, ws...)}
		if bias {
			in = append(in, rn(3, ws[0]))
		}
		return gcase{name, func(x []*ag.Tensor) *ag.Tensor {
			var b *ag.Tensor
			if len(x) > 2 {
				b = x[2]
			}
			return ag.Conv2d(x[0], x[1], b, o)
		}, in}
	}
	c1 := func(name string, xs, ws []int, bias bool, o ag.Conv1dOptions) gcase {
		in := []*ag.Tensor{rn(4, xs...), rn(5, ws...)}
		if bias {
			in = append(in, rn(6, ws[0]))
		}
		return gcase{name, func(x []*ag.Tensor) *ag.Tensor {
			var b *ag.Tensor
			if len(x) > 2 {
				b = x[2]
			}
			return ag.Conv1d(x[0], x[1], b, o)
		}, in}
	}
	u := func(name string, in *ag.Tensor, f func(x *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(x []*ag.Tensor) *ag.Tensor { return f(x[0]) }, []*ag.Tensor{in}}
	}
	return []gcase{
		c2("Conv2d", []int{2, 3, 5, 4}, []int{4, 3, 3, 3}, true, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}),
		c2("Conv2dStrideDilAsym", []int{2, 2, 7, 6}, []int{3, 2, 2, 3}, false,
			ag.Conv2dOptions{Stride: [2]int{2, 1}, Dilation: [2]int{2, 1}, Padding: [4]int{1, 0, 2, 1}}),
		c2("Conv2dGroups", []int{2, 4, 4, 4}, []int{6, 2, 3, 3}, true, ag.Conv2dOptions{Groups: 2, Padding: ag.SymmetricPadding(1, 0)}),
		c2("Conv2dDepthwise", []int{2, 3, 6, 5}, []int{3, 1, 3, 3}, true, ag.Conv2dOptions{Groups: 3, Padding: ag.SymmetricPadding(1, 1)}),
		c2("Conv2dDepthwiseDil", []int{1, 2, 7, 7}, []int{2, 1, 3, 3}, true,
			ag.Conv2dOptions{Groups: 2, Dilation: [2]int{3, 3}, Same: true}),
		c2("Conv2dDepthwiseStride", []int{2, 2, 6, 7}, []int{2, 1, 3, 2}, false,
			ag.Conv2dOptions{Groups: 2, Stride: [2]int{2, 2}, Padding: [4]int{1, 0, 1, 1}}),
		c2("Conv2dSameCircular", []int{1, 2, 4, 5}, []int{2, 2, 3, 2}, true, ag.Conv2dOptions{Same: true, PadMode: ag.PadCircular}),
		c2("Conv2dPointwise", []int{1, 3, 3, 4}, []int{2, 3, 1, 1}, true, ag.Conv2dOptions{}),
		c2("Conv2dPointwiseBatch", []int{3, 2, 3, 3}, []int{4, 2, 1, 1}, false, ag.Conv2dOptions{}),
		c1("Conv1d", []int{2, 3, 7}, []int{2, 3, 3}, true, ag.Conv1dOptions{Padding: [2]int{1, 1}}),
		c1("Conv1dStrideDil", []int{2, 2, 11}, []int{3, 2, 3}, true, ag.Conv1dOptions{Stride: 2, Dilation: 2, Padding: [2]int{2, 0}}),
		c1("Conv1dDepthwiseCircular", []int{2, 3, 6}, []int{3, 1, 3}, true, ag.Conv1dOptions{Groups: 3, Padding: [2]int{1, 1}, PadMode: ag.PadCircular}),
		u("Unfold", rn(7, 2, 2, 5, 4), func(x *ag.Tensor) *ag.Tensor {
			return ag.Unfold(x, ag.UnfoldOptions{Kernel: [2]int{2, 3}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{2, 1}})
		}),
		u("Fold", rn(8, 2, 6, 15), func(x *ag.Tensor) *ag.Tensor {
			return ag.Fold(x, 4, 5, ag.UnfoldOptions{Kernel: [2]int{2, 3}, Padding: [2]int{1, 0}, Stride: [2]int{1, 1}})
		}),
		u("PixelShuffle", rn(9, 2, 8, 2, 3), func(x *ag.Tensor) *ag.Tensor { return ag.PixelShuffle(x, 2) }),
		u("PixelUnshuffle", rn(10, 1, 2, 4, 6), func(x *ag.Tensor) *ag.Tensor { return ag.PixelUnshuffle(x, 2) }),
	}
}

func poolCases() []gcase {
	u := func(name string, in *ag.Tensor, f func(x *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(x []*ag.Tensor) *ag.Tensor { return f(x[0]) }, []*ag.Tensor{in}}
	}
	x4 := distinct(11, 2, 2, 7, 6)
	x3 := distinct(12, 2, 3, 9)
	return []gcase{
		u("MaxPool2d", x4, func(x *ag.Tensor) *ag.Tensor {
			return ag.MaxPool2d(x, ag.Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}),
		u("MaxPool2dDilCeil", x4, func(x *ag.Tensor) *ag.Tensor {
			return ag.MaxPool2d(x, ag.Pool2dOptions{Kernel: [2]int{2, 3}, Stride: [2]int{2, 1}, Dilation: [2]int{2, 1}, CeilMode: true})
		}),
		u("MaxPool1d", x3, func(x *ag.Tensor) *ag.Tensor {
			return ag.MaxPool1d(x, ag.Pool1dOptions{Kernel: 3, Stride: 2, Padding: 1})
		}),
		u("AvgPool2d", x4, func(x *ag.Tensor) *ag.Tensor {
			return ag.AvgPool2d(x, ag.Pool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		}),
		u("AvgPool2dExcludeCeil", x4, func(x *ag.Tensor) *ag.Tensor {
			return ag.AvgPool2d(x, ag.Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, ExcludePad: true, CeilMode: true})
		}),
		u("AvgPool1dDivisor", x3, func(x *ag.Tensor) *ag.Tensor {
			return ag.AvgPool1d(x, ag.Pool1dOptions{Kernel: 4, Stride: 3, Padding: 2, Divisor: 3})
		}),
		u("AdaptiveAvgPool2d", x4, func(x *ag.Tensor) *ag.Tensor { return ag.AdaptiveAvgPool2d(x, 3, 4) }),
		u("AdaptiveAvgPool1d", x3, func(x *ag.Tensor) *ag.Tensor { return ag.AdaptiveAvgPool1d(x, 5) }),
	}
}

func normCases() []gcase {
	x := rn(13, 3, 4, 5)
	w4, b4 := rn(14, 4), rn(15, 4)
	w5, b5 := rn(16, 5), rn(17, 5)
	rm, rv := rn(18, 4), positive(19, 4)
	three := func(name string, a, b, c *ag.Tensor, f func(x, w, b *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0], xs[1], xs[2]) }, []*ag.Tensor{a, b, c}}
	}
	return []gcase{
		three("LayerNorm", x, w5, b5, func(x, w, b *ag.Tensor) *ag.Tensor { return ag.LayerNorm(x, []int{5}, w, b, 1e-5) }),
		three("LayerNorm2", x, w5.Expand(4, 5).Mul(rn(20, 4, 5)), rn(21, 4, 5), func(x, w, b *ag.Tensor) *ag.Tensor {
			return ag.LayerNorm(x, []int{4, 5}, w, b, 1e-5)
		}),
		{"LayerNormPlain", func(xs []*ag.Tensor) *ag.Tensor { return ag.LayerNorm(xs[0], []int{5}, nil, nil, 1e-5) }, []*ag.Tensor{x}},
		three("BatchNormTrain", x, w4, b4, func(x, w, b *ag.Tensor) *ag.Tensor {
			return ag.BatchNorm(x, nil, nil, w, b, true, 0.1, 1e-5)
		}),
		{"BatchNormTrainPlain", func(xs []*ag.Tensor) *ag.Tensor {
			return ag.BatchNorm(xs[0], nil, nil, nil, nil, true, 0.1, 1e-5)
		}, []*ag.Tensor{rn(22, 6, 3)}},
		three("BatchNormEval", x, w4, b4, func(x, w, b *ag.Tensor) *ag.Tensor {
			return ag.BatchNorm(x, rm, rv, w, b, false, 0.1, 1e-5)
		}),
		three("GroupNorm", x, w4, b4, func(x, w, b *ag.Tensor) *ag.Tensor { return ag.GroupNorm(x, 2, w, b, 1e-5) }),
		three("ChannelAffineLast", x, w5, b5, func(x, w, b *ag.Tensor) *ag.Tensor { return ag.ChannelAffine(x, w, b, -1) }),
		three("ChannelAffineMiddle", x, w4, b4, func(x, w, b *ag.Tensor) *ag.Tensor { return ag.ChannelAffine(x, w, b, 1) }),
		three("ChannelAffineFirst", x, rn(25, 3), rn(26, 3), func(x, w, b *ag.Tensor) *ag.Tensor { return ag.ChannelAffine(x, w, b, 0) }),
		{"ChannelAffineScaleOnly", func(xs []*ag.Tensor) *ag.Tensor { return ag.ChannelAffine(xs[0], xs[1], nil, 2) }, []*ag.Tensor{x, w5}},
		{"GroupNormBiasOnly", func(xs []*ag.Tensor) *ag.Tensor { return ag.GroupNorm(xs[0], 4, nil, xs[1], 1e-5) }, []*ag.Tensor{x, b4}},
		// padding_idx deliberately drops a true gradient, so only the plain
		// lookup is checked here (the golden test covers padding).
		{"Embedding", func(xs []*ag.Tensor) *ag.Tensor {
			return ag.Embedding(xs[0], []int{1, 3, 3, 0, 2, 3}, []int{2, 3})
		}, []*ag.Tensor{rn(23, 4, 3)}},
		{"Dropout", func(xs []*ag.Tensor) *ag.Tensor { return ag.Dropout(xs[0], 0.3, ag.NewRNG(5)) }, []*ag.Tensor{rn(24, 4, 5)}},
	}
}

func indexCases() []gcase {
	x := rn(25, 3, 4, 5)
	return []gcase{
		{"Gather", func(xs []*ag.Tensor) *ag.Tensor {
			return xs[0].Gather(1, []int{0, 3, 3, 1, 2, 2, 0, 1, 3, 3, 1, 0}, []int{2, 2, 3})
		}, []*ag.Tensor{x}},
		{"ScatterAdd", func(xs []*ag.Tensor) *ag.Tensor {
			return xs[0].ScatterAdd(2, []int{4, 0, 4, 1, 2, 2, 3, 0, 1, 1, 1, 4}, []int{1, 3, 4}, xs[1])
		}, []*ag.Tensor{x, rn(26, 2, 3, 4)}},
		{"IndexAdd", func(xs []*ag.Tensor) *ag.Tensor { return xs[0].IndexAdd(1, []int{3, 0, 3, -1, 2}, xs[1]) },
			[]*ag.Tensor{x, rn(27, 3, 5, 5)}},
		{"SegmentSum", func(xs []*ag.Tensor) *ag.Tensor { return ag.SegmentSum(xs[0], []int{2, 0, 2, 1, 0, 4}, 5) },
			[]*ag.Tensor{rn(28, 6, 2, 2)}},
	}
}

func lossCases() []gcase {
	logits := rn(29, 6, 4)
	target := []int{1, 0, 3, -100, 2, 1}
	w := positive(30, 4)
	pred := rn(31, 4, 3)
	tgt := pred.Add(away(32, 0.1, 1.0, 4, 3)) // |pred − target| ≥ 0.1: no kinks
	mask := ag.New([]float32{1, 0, 1, 1}, 4, 1)
	ce := func(name string, o ag.CrossEntropyOptions) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return ag.CrossEntropy(xs[0], target, o) }, []*ag.Tensor{logits}}
	}
	pair := func(name string, f func(p, t *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0], xs[1]) }, []*ag.Tensor{pred, tgt}}
	}
	return []gcase{
		ce("CrossEntropy", ag.CrossEntropyOptions{}),
		ce("CrossEntropyWeightSmooth", ag.CrossEntropyOptions{Weight: w, LabelSmoothing: 0.2}),
		ce("CrossEntropyIgnoreNone", ag.CrossEntropyOptions{IgnoreIndex: 1, UseIgnoreIndex: true, Reduction: ag.ReductionNone, LabelSmoothing: 0.1}),
		{"CrossEntropySpatial", func(xs []*ag.Tensor) *ag.Tensor {
			return ag.CrossEntropy(xs[0], []int{0, 2, 1, 1, 2, 0}, ag.CrossEntropyOptions{Weight: positive(33, 3)})
		}, []*ag.Tensor{rn(34, 2, 3, 3)}},
		{"NLLLoss", func(xs []*ag.Tensor) *ag.Tensor {
			return ag.NLLLoss(xs[0], target, ag.CrossEntropyOptions{Weight: w, Reduction: ag.ReductionSum})
		}, []*ag.Tensor{logits}},
		pair("BCEWithLogits", func(p, t *ag.Tensor) *ag.Tensor {
			return ag.BCEWithLogits(p, t.Sigmoid(), ag.BCEOptions{PosWeight: positive(35, 3), Mask: mask})
		}),
		pair("MSELoss", func(p, t *ag.Tensor) *ag.Tensor { return ag.MSELoss(p, t, ag.LossOptions{Mask: mask}) }),
		pair("L1Loss", func(p, t *ag.Tensor) *ag.Tensor { return ag.L1Loss(p, t, ag.LossOptions{Reduction: ag.ReductionSum}) }),
		pair("HuberLoss", func(p, t *ag.Tensor) *ag.Tensor {
			return ag.HuberLoss(p, t, 0.55, ag.LossOptions{Reduction: ag.ReductionNone})
		}),
		pair("MaskedMAE", func(p, t *ag.Tensor) *ag.Tensor { return ag.MaskedMAE(p, t, mask) }),
	}
}

func causalCases() []gcase {
	cc := func(name string, u, k *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return ag.CausalConv(xs[0], xs[1]) }, []*ag.Tensor{u, k}}
	}
	return []gcase{
		cc("Shared", rn(36, 2, 3, 9), rn(37, 3, 9)),
		cc("Batched", rn(38, 2, 2, 7), rn(39, 2, 2, 7)),
		cc("ShortKernel", rn(40, 1, 2, 8), rn(41, 2, 3)),
		cc("FFT", rn(42, 2, 1, 140), rn(43, 1, 140).MulScalar(0.2)),
	}
}

func TestGradCheckNN(t *testing.T) {
	groups := map[string][]gcase{
		"conv": convCases(), "pool": poolCases(), "norm": normCases(), "index": indexCases(),
		"loss": lossCases(), "causal": causalCases(),
	}
	for g, cases := range groups {
		for _, c := range cases {
			t.Run(g+"/"+c.name, func(t *testing.T) { gradCheck(t, c.f, c.inputs...) })
		}
	}
}
