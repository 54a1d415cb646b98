package cuda

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepgo/deepgo/autograd"
)

// convGeom builds a geometry with symmetric padding.
func convGeom(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) autograd.ConvGeom {
	return autograd.ConvGeom{N: n, C: c, H: h, W: w, KH: kh, KW: kw,
		OH: (h+2*ph-dh*(kh-1)-1)/sh + 1, OW: (w+2*pw-dw*(kw-1)-1)/sw + 1,
		StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw}
}

var convGeoms = []autograd.ConvGeom{
	convGeom(2, 3, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1),
	convGeom(1, 2, 9, 8, 3, 2, 2, 3, 1, 0, 2, 1),
	convGeom(2, 4, 5, 5, 5, 5, 1, 1, 2, 2, 1, 1),
	convGeom(3, 2, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1),
	convGeom(1, 3, 11, 10, 3, 3, 2, 2, 1, 1, 1, 1),
}

func TestConformConv(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for gi, g := range convGeoms {
			l := g.OH * g.OW
			rows := g.C * g.KH * g.KW
			x := p.up(p.randn(g.N * g.C * g.H * g.W))
			for _, fc := range [][2]int{{0, g.N}, {g.N - 1, 1}} {
				first, count := fc[0], fc[1]
				col := p.nan(rows * count * l)
				autograd.CPU.Im2col(g, col.cpu, x.cpu, first, count, count*l, l)
				dev.Im2col(g, col.dev, x.dev, first, count, count*l, l)
				p.check(fmt.Sprintf("Im2col %d first=%d", gi, first), col, 0)

				c2 := p.up(p.randn(rows * count * l))
				dx := p.up(p.randn(g.N * g.C * g.H * g.W))
				autograd.CPU.Col2im(g, dx.cpu, c2.cpu, first, count, count*l, l)
				dev.Col2im(g, dx.dev, c2.dev, first, count, count*l, l)
				p.check(fmt.Sprintf("Col2im %d first=%d", gi, first), dx, 1e-5)
			}

			w := p.up(p.randn(g.C * g.KH * g.KW))
			b := p.up(p.randn(g.C))
			for _, bias := range []bool{true, false} {
				var bc, bd autograd.Buffer
				if bias {
					bc, bd = b.cpu, b.dev
				}
				y := p.nan(g.N * g.C * l)
				autograd.CPU.DepthwiseConv2d(g, y.cpu, x.cpu, w.cpu, bc)
				dev.DepthwiseConv2d(g, y.dev, x.dev, w.dev, bd)
				p.check(fmt.Sprintf("DepthwiseConv2d %d bias=%v", gi, bias), y, 1e-5)
			}
			gy := p.up(p.randn(g.N * g.C * l))
			dx, dw := p.nan(g.N*g.C*g.H*g.W), p.nan(g.C*g.KH*g.KW)
			autograd.CPU.DepthwiseConv2dGrad(g, dx.cpu, dw.cpu, gy.cpu, x.cpu, w.cpu)
			dev.DepthwiseConv2dGrad(g, dx.dev, dw.dev, gy.dev, x.dev, w.dev)
			p.check(fmt.Sprintf("DepthwiseConv2dGrad %d dx", gi), dx, 1e-5)
			p.check(fmt.Sprintf("DepthwiseConv2dGrad %d dw", gi), dw, 1e-5)
			dw2 := p.nan(g.C * g.KH * g.KW)
			autograd.CPU.DepthwiseConv2dGrad(g, nil, dw2.cpu, gy.cpu, x.cpu, w.cpu)
			dev.DepthwiseConv2dGrad(g, nil, dw2.dev, gy.dev, x.dev, w.dev)
			p.check(fmt.Sprintf("DepthwiseConv2dGrad %d dw alone", gi), dw2, 1e-5)
		}
	})
}

func TestConformPool(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for gi, g := range convGeoms {
			if g.PadH > g.KH/2 || g.PadW > g.KW/2 {
				continue // torch's pooling limit
			}
			l := g.OH * g.OW
			xv := p.randn(g.N * g.C * g.H * g.W)
			for i := range xv {
				if i%9 == 4 {
					xv[i] = 0.5 // ties
				}
			}
			xv[5] = float32(math.NaN())
			x := p.up(xv)
			gy := p.up(p.randn(g.N * g.C * l))
			y := p.nan(g.N * g.C * l)
			autograd.CPU.MaxPool2d(g, y.cpu, x.cpu)
			dev.MaxPool2d(g, y.dev, x.dev)
			p.check(fmt.Sprintf("MaxPool2d %d", gi), y, 0)
			yc := p.up(host(autograd.CPU, y.cpu))
			dx := p.nan(g.N * g.C * g.H * g.W)
			autograd.CPU.MaxPool2dGrad(g, dx.cpu, gy.cpu, x.cpu, yc.cpu)
			dev.MaxPool2dGrad(g, dx.dev, gy.dev, x.dev, yc.dev)
			p.check(fmt.Sprintf("MaxPool2dGrad %d", gi), dx, 1e-5)

			if g.DilH != 1 || g.DilW != 1 {
				continue // average pooling has no dilation
			}
			x2 := p.up(p.randn(g.N * g.C * g.H * g.W))
			for _, cp := range []bool{false, true} {
				for _, div := range []int{0, 5} {
					name := fmt.Sprintf("%d countPad=%v divisor=%d", gi, cp, div)
					y := p.nan(g.N * g.C * l)
					autograd.CPU.AvgPool2d(g, y.cpu, x2.cpu, cp, div)
					dev.AvgPool2d(g, y.dev, x2.dev, cp, div)
					p.check("AvgPool2d "+name, y, 1e-5)
					dx := p.nan(g.N * g.C * g.H * g.W)
					autograd.CPU.AvgPool2dGrad(g, dx.cpu, gy.cpu, cp, div)
					dev.AvgPool2dGrad(g, dx.dev, gy.dev, cp, div)
					p.check("AvgPool2dGrad "+name, dx, 1e-5)
				}
			}
		}
		for _, s := range [][4]int{{7, 5, 3, 2}, {6, 6, 1, 1}, {5, 9, 5, 4}, {4, 4, 6, 7}} {
			g := autograd.ConvGeom{N: 2, C: 3, H: s[0], W: s[1], OH: s[2], OW: s[3]}
			x := p.up(p.randn(g.N * g.C * g.H * g.W))
			y := p.nan(g.N * g.C * g.OH * g.OW)
			autograd.CPU.AdaptiveAvgPool2d(g, y.cpu, x.cpu)
			dev.AdaptiveAvgPool2d(g, y.dev, x.dev)
			p.check(fmt.Sprintf("AdaptiveAvgPool2d %v", s), y, 1e-5)
			gy := p.up(p.randn(g.N * g.C * g.OH * g.OW))
			dx := p.nan(g.N * g.C * g.H * g.W)
			autograd.CPU.AdaptiveAvgPool2dGrad(g, dx.cpu, gy.cpu)
			dev.AdaptiveAvgPool2dGrad(g, dx.dev, gy.dev)
			p.check(fmt.Sprintf("AdaptiveAvgPool2dGrad %v", s), dx, 1e-5)
		}
	})
}

func TestConformChannelNorm(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, s := range [][3]int{{4, 3, 10}, {1, 5, 1}, {3, 2, 700}} {
			outer, c, inner := s[0], s[1], s[2]
			n := outer * c * inner
			xv := p.randn(n)
			for i := range xv {
				xv[i] = 2*xv[i] + 5
			}
			x := p.up(xv)
			mean, variance := p.nan(c), p.nan(c)
			autograd.CPU.ChannelStats(mean.cpu, variance.cpu, x.cpu, outer, c, inner)
			dev.ChannelStats(mean.dev, variance.dev, x.dev, outer, c, inner)
			p.check(fmt.Sprintf("ChannelStats %v mean", s), mean, conformTol)
			p.check(fmt.Sprintf("ChannelStats %v var", s), variance, conformTol)

			scale, shift := p.up(p.randn(c)), p.up(p.randn(c))
			for _, sh := range []bool{true, false} {
				var sc, sd autograd.Buffer
				if sh {
					sc, sd = shift.cpu, shift.dev
				}
				y := p.nan(n)
				autograd.CPU.ChannelAffine(y.cpu, x.cpu, scale.cpu, sc, outer, c, inner)
				dev.ChannelAffine(y.dev, x.dev, scale.dev, sd, outer, c, inner)
				p.check(fmt.Sprintf("ChannelAffine %v shift=%v", s, sh), y, 1e-5)
			}

			gr := p.up(p.randn(n))
			m := p.up(host(autograd.CPU, mean.cpu))
			rs := p.up(p.uniform(c, 0.5, 2))
			w := p.up(p.randn(c))
			for _, batch := range []bool{true, false} {
				for _, stats := range []bool{true, false} {
					var mc, md, rc, rd, wc, wd autograd.Buffer
					if stats {
						mc, md, rc, rd, wc, wd = m.cpu, m.dev, rs.cpu, rs.dev, w.cpu, w.dev
					}
					name := fmt.Sprintf("ChannelNormGrad %v batchStats=%v stats=%v", s, batch, stats)
					dx, dw, db := p.nan(n), p.nan(c), p.nan(c)
					autograd.CPU.ChannelNormGrad(dx.cpu, dw.cpu, db.cpu, gr.cpu, x.cpu, mc, rc, wc, outer, c, inner, batch)
					dev.ChannelNormGrad(dx.dev, dw.dev, db.dev, gr.dev, x.dev, md, rd, wd, outer, c, inner, batch)
					p.check(name+" dx", dx, 1e-4)
					p.check(name+" dw", dw, 1e-4)
					p.check(name+" db", db, 1e-4)
					dx2 := p.nan(n)
					autograd.CPU.ChannelNormGrad(dx2.cpu, nil, nil, gr.cpu, x.cpu, mc, rc, wc, outer, c, inner, batch)
					dev.ChannelNormGrad(dx2.dev, nil, nil, gr.dev, x.dev, md, rd, wd, outer, c, inner, batch)
					p.check(name+" dx alone", dx2, 1e-4)
				}
			}
		}
	})
}

func TestConformGatherScatter(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		outer, n, inner, k := 2, 5, 3, 4
		idx := make([]int, outer*k*inner)
		for i := range idx {
			idx[i] = p.rng.Intn(n)
		}
		src := p.up(p.randn(outer * n * inner))
		d := p.nan(outer * k * inner)
		autograd.CPU.Gather(d.cpu, src.cpu, outer, n, inner, k, idx)
		dev.Gather(d.dev, src.dev, outer, n, inner, k, idx)
		p.check("Gather", d, 0)

		acc := p.up(p.randn(outer * n * inner))
		add := p.up(p.randn(outer * k * inner))
		autograd.CPU.ScatterAdd(acc.cpu, add.cpu, outer, n, inner, k, idx)
		dev.ScatterAdd(acc.dev, add.dev, outer, n, inner, k, idx)
		p.check("ScatterAdd", acc, 1e-5)

		ids := []int{3, 0, 3, 5, 0, 0, 2, 5, 3}
		rows := p.up(p.randn(len(ids) * 4))
		seg := p.nan(6 * 4)
		autograd.CPU.SegmentSum(seg.cpu, rows.cpu, ids, 6, 4)
		dev.SegmentSum(seg.dev, rows.dev, ids, 6, 4)
		p.check("SegmentSum", seg, 0)
		empty := p.nan(3 * 2)
		autograd.CPU.SegmentSum(empty.cpu, rows.cpu, nil, 3, 2)
		dev.SegmentSum(empty.dev, rows.dev, nil, 3, 2)
		p.check("SegmentSum of no rows", empty, 0)
	})
}

func TestConformCausalConv(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, l := range []int{1, 50, 300} {
			b, h := 2, 3
			u := p.up(p.randn(b * h * l))
			for _, kb := range []bool{false, true} {
				kr := h
				if kb {
					kr = b * h
				}
				k := p.up(p.randn(kr * l))
				y := p.nan(b * h * l)
				autograd.CPU.CausalConv(y.cpu, u.cpu, k.cpu, b, h, l, kb)
				dev.CausalConv(y.dev, u.dev, k.dev, b, h, l, kb)
				p.check(fmt.Sprintf("CausalConv l=%d kBatched=%v", l, kb), y, 1e-4)
			}
		}
	})
}
