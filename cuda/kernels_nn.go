package cuda

// nnSource is the neural-network module: im2col/col2im, depthwise
// convolution, pooling, batch-norm statistics, gather/scatter, segment
// sums and the long causal convolution. Gradients that the CPU device
// scatters are computed here by gathering (one thread per input element
// sums the outputs it fed), which needs no atomics and is deterministic.
const nnSource = `
// dg_conv mirrors autograd.ConvGeom.
struct dg_conv {
	i64 N, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW;
};

// dg_tap finds the output position o whose tap k reads input i along one
// axis (o·s − p + k·d = i); it returns −1 when there is none.
__device__ __forceinline__ i64 dg_tap(i64 i, i64 k, i64 s, i64 p, i64 d, i64 out) {
	i64 v = i + p - k * d;
	if (v < 0 || v % s != 0) return -1;
	v /= s;
	return v < out ? v : -1;
}

extern "C" __global__ void dg_im2col(dg_conv g, float* col, const float* x, i64 first, i64 count, i64 rowStride, i64 imageStride) {
	i64 l = g.OH * g.OW, rows = g.C * g.KH * g.KW;
	dgLoop(t, rows * count * l) {
		i64 p = t % l, q = t / l;
		i64 j = q % count, r = q / count;
		i64 kw = r % g.KW, kh = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
		i64 ih = (p / g.OW) * g.SH - g.PH + kh * g.DH;
		i64 iw = (p % g.OW) * g.SW - g.PW + kw * g.DW;
		float v = 0.0f;
		if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = x[(((first + j) * g.C + c) * g.H + ih) * g.W + iw];
		col[r * rowStride + j * imageStride + p] = v;
	}
}

extern "C" __global__ void dg_col2im(dg_conv g, float* dx, const float* col, i64 first, i64 count, i64 rowStride, i64 imageStride) {
	i64 hw = g.H * g.W;
	dgLoop(t, count * g.C * hw) {
		i64 iw = t % g.W, ih = (t / g.W) % g.H, c = (t / hw) % g.C, j = t / (hw * g.C);
		float s = 0.0f;
		for (i64 kh = 0; kh < g.KH; kh++) {
			i64 oh = dg_tap(ih, kh, g.SH, g.PH, g.DH, g.OH);
			if (oh < 0) continue;
			for (i64 kw = 0; kw < g.KW; kw++) {
				i64 ow = dg_tap(iw, kw, g.SW, g.PW, g.DW, g.OW);
				if (ow < 0) continue;
				i64 r = (c * g.KH + kh) * g.KW + kw;
				s += col[r * rowStride + j * imageStride + oh * g.OW + ow];
			}
		}
		dx[((first + j) * g.C + c) * hw + ih * g.W + iw] += s;
	}
}

extern "C" __global__ void dg_depthwise(dg_conv g, float* y, const float* x, const float* w, const float* b) {
	i64 l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * l) {
		i64 ow = t % g.OW, oh = (t / g.OW) % g.OH, pl = t / l, c = pl % g.C;
		const float* in = x + pl * g.H * g.W;
		const float* wc = w + c * g.KH * g.KW;
		float s = b ? b[c] : 0.0f;
		for (i64 kh = 0; kh < g.KH; kh++) {
			i64 ih = oh * g.SH - g.PH + kh * g.DH;
			if (ih < 0 || ih >= g.H) continue;
			for (i64 kw = 0; kw < g.KW; kw++) {
				i64 iw = ow * g.SW - g.PW + kw * g.DW;
				if (iw < 0 || iw >= g.W) continue;
				s += wc[kh * g.KW + kw] * in[ih * g.W + iw];
			}
		}
		y[t] = s;
	}
}

extern "C" __global__ void dg_depthwise_dx(dg_conv g, float* dx, const float* gy, const float* w) {
	i64 hw = g.H * g.W;
	dgLoop(t, g.N * g.C * hw) {
		i64 iw = t % g.W, ih = (t / g.W) % g.H, pl = t / hw, c = pl % g.C;
		const float* gp = gy + pl * g.OH * g.OW;
		const float* wc = w + c * g.KH * g.KW;
		float s = 0.0f;
		for (i64 kh = 0; kh < g.KH; kh++) {
			i64 oh = dg_tap(ih, kh, g.SH, g.PH, g.DH, g.OH);
			if (oh < 0) continue;
			for (i64 kw = 0; kw < g.KW; kw++) {
				i64 ow = dg_tap(iw, kw, g.SW, g.PW, g.DW, g.OW);
				if (ow < 0) continue;
				s += wc[kh * g.KW + kw] * gp[oh * g.OW + ow];
			}
		}
		dx[t] = s;
	}
}

// One block per filter tap (c, kh, kw): the sum over images and outputs.
extern "C" __global__ void dg_depthwise_dw(dg_conv g, float* dw, const float* gy, const float* x) {
	__shared__ double sh[DG_BLOCK];
	i64 kk = g.KH * g.KW, l = g.OH * g.OW;
	for (i64 r = blockIdx.x; r < g.C * kk; r += gridDim.x) {
		i64 c = r / kk, kh = (r % kk) / g.KW, kw = r % g.KW;
		double s = 0.0;
		for (i64 q = threadIdx.x; q < g.N * l; q += blockDim.x) {
			i64 n = q / l, p = q % l;
			i64 ih = (p / g.OW) * g.SH - g.PH + kh * g.DH;
			i64 iw = (p % g.OW) * g.SW - g.PW + kw * g.DW;
			if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
			i64 pl = n * g.C + c;
			s += (double)gy[pl * l + p] * (double)x[(pl * g.H + ih) * g.W + iw];
		}
		sh[threadIdx.x] = s;
		dg_block_sum(sh);
		if (threadIdx.x == 0) dw[r] = (float)sh[0];
		__syncthreads();
	}
}

extern "C" __global__ void dg_maxpool(dg_conv g, float* y, const float* x) {
	i64 l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * l) {
		i64 ow = t % g.OW, oh = (t / g.OW) % g.OH, pl = t / l;
		const float* in = x + pl * g.H * g.W;
		float m = -dg_inf();
		for (i64 kh = 0; kh < g.KH; kh++) {
			i64 ih = oh * g.SH - g.PH + kh * g.DH;
			if (ih < 0 || ih >= g.H) continue;
			for (i64 kw = 0; kw < g.KW; kw++) {
				i64 iw = ow * g.SW - g.PW + kw * g.DW;
				if (iw < 0 || iw >= g.W) continue;
				m = dg_maxnan(m, in[ih * g.W + iw], 0);
			}
		}
		y[t] = m;
	}
}

// dg_maxpool_arg returns the input index (within its plane) that output
// (oh, ow) chose, as torch: the first tap equal to the maximum m, or the
// last NaN; −1 for none.
__device__ __forceinline__ i64 dg_maxpool_arg(const dg_conv& g, const float* in, i64 oh, i64 ow, float m) {
	i64 arg = -1;
	for (i64 kh = 0; kh < g.KH; kh++) {
		i64 ih = oh * g.SH - g.PH + kh * g.DH;
		if (ih < 0 || ih >= g.H) continue;
		for (i64 kw = 0; kw < g.KW; kw++) {
			i64 iw = ow * g.SW - g.PW + kw * g.DW;
			if (iw < 0 || iw >= g.W) continue;
			float v = in[ih * g.W + iw];
			if (m == m) {
				if (v == m) return ih * g.W + iw;
			} else if (v != v) {
				arg = ih * g.W + iw;
			}
		}
	}
	return arg;
}

extern "C" __global__ void dg_maxpool_grad(dg_conv g, float* dx, const float* gy, const float* x, const float* y) {
	i64 hw = g.H * g.W, l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * hw) {
		i64 iw = t % g.W, ih = (t / g.W) % g.H, pl = t / hw;
		const float* in = x + pl * hw;
		float s = 0.0f;
		for (i64 kh = 0; kh < g.KH; kh++) {
			i64 oh = dg_tap(ih, kh, g.SH, g.PH, g.DH, g.OH);
			if (oh < 0) continue;
			for (i64 kw = 0; kw < g.KW; kw++) {
				i64 ow = dg_tap(iw, kw, g.SW, g.PW, g.DW, g.OW);
				if (ow < 0) continue;
				i64 o = pl * l + oh * g.OW + ow;
				if (dg_maxpool_arg(g, in, oh, ow, y[o]) == ih * g.W + iw) s += gy[o];
			}
		}
		dx[t] = s;
	}
}

// dg_avg_window is torch's avg_pool2d window of output (oh, ow), clipped,
// and its divisor.
__device__ __forceinline__ float dg_avg_window(const dg_conv& g, i64 oh, i64 ow, int countPad, i64 divisor, i64* h0, i64* h1, i64* w0, i64* w1) {
	i64 a = oh * g.SH - g.PH, c = ow * g.SW - g.PW;
	i64 b = a + g.KH < g.H + g.PH ? a + g.KH : g.H + g.PH;
	i64 e = c + g.KW < g.W + g.PW ? c + g.KW : g.W + g.PW;
	i64 size = (b - a) * (e - c);
	*h0 = a > 0 ? a : 0;
	*w0 = c > 0 ? c : 0;
	*h1 = b < g.H ? b : g.H;
	*w1 = e < g.W ? e : g.W;
	if (divisor > 0) return (float)divisor;
	if (countPad) return (float)size;
	return (float)((*h1 - *h0) * (*w1 - *w0));
}

extern "C" __global__ void dg_avgpool(dg_conv g, float* y, const float* x, int countPad, i64 divisor) {
	i64 l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * l) {
		i64 ow = t % g.OW, oh = (t / g.OW) % g.OH, pl = t / l;
		const float* in = x + pl * g.H * g.W;
		i64 h0, h1, w0, w1;
		float div = dg_avg_window(g, oh, ow, countPad, divisor, &h0, &h1, &w0, &w1);
		if (h0 >= h1 || w0 >= w1) {
			y[t] = 0.0f;
			continue;
		}
		float s = 0.0f;
		for (i64 ih = h0; ih < h1; ih++)
			for (i64 iw = w0; iw < w1; iw++) s += in[ih * g.W + iw];
		y[t] = s / div;
	}
}

extern "C" __global__ void dg_avgpool_grad(dg_conv g, float* dx, const float* gy, int countPad, i64 divisor) {
	i64 hw = g.H * g.W, l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * hw) {
		i64 iw = t % g.W, ih = (t / g.W) % g.H, pl = t / hw;
		float s = 0.0f;
		i64 ohLo = (ih + g.PH - g.KH + 1 + g.SH - 1) / g.SH, ohHi = (ih + g.PH) / g.SH;
		i64 owLo = (iw + g.PW - g.KW + 1 + g.SW - 1) / g.SW, owHi = (iw + g.PW) / g.SW;
		if (ih + g.PH - g.KH + 1 < 0) ohLo = 0;
		if (iw + g.PW - g.KW + 1 < 0) owLo = 0;
		for (i64 oh = ohLo; oh <= ohHi && oh < g.OH; oh++) {
			for (i64 ow = owLo; ow <= owHi && ow < g.OW; ow++) {
				i64 h0, h1, w0, w1;
				float div = dg_avg_window(g, oh, ow, countPad, divisor, &h0, &h1, &w0, &w1);
				if (ih >= h0 && ih < h1 && iw >= w0 && iw < w1) s += gy[pl * l + oh * g.OW + ow] / div;
			}
		}
		dx[t] = s;
	}
}

extern "C" __global__ void dg_adaptive_avgpool(dg_conv g, float* y, const float* x) {
	i64 l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * l) {
		i64 ow = t % g.OW, oh = (t / g.OW) % g.OH, pl = t / l;
		const float* in = x + pl * g.H * g.W;
		i64 h0 = oh * g.H / g.OH, h1 = ((oh + 1) * g.H + g.OH - 1) / g.OH;
		i64 w0 = ow * g.W / g.OW, w1 = ((ow + 1) * g.W + g.OW - 1) / g.OW;
		float s = 0.0f;
		for (i64 ih = h0; ih < h1; ih++)
			for (i64 iw = w0; iw < w1; iw++) s += in[ih * g.W + iw];
		y[t] = s / (float)((h1 - h0) * (w1 - w0));
	}
}

extern "C" __global__ void dg_adaptive_avgpool_grad(dg_conv g, float* dx, const float* gy) {
	i64 hw = g.H * g.W, l = g.OH * g.OW;
	dgLoop(t, g.N * g.C * hw) {
		i64 iw = t % g.W, ih = (t / g.W) % g.H, pl = t / hw;
		float s = 0.0f;
		i64 ohLo = ih * g.OH / g.H - 1, ohHi = (ih + 1) * g.OH / g.H + 1;
		i64 owLo = iw * g.OW / g.W - 1, owHi = (iw + 1) * g.OW / g.W + 1;
		for (i64 oh = ohLo < 0 ? 0 : ohLo; oh <= ohHi && oh < g.OH; oh++) {
			i64 h0 = oh * g.H / g.OH, h1 = ((oh + 1) * g.H + g.OH - 1) / g.OH;
			if (ih < h0 || ih >= h1) continue;
			for (i64 ow = owLo < 0 ? 0 : owLo; ow <= owHi && ow < g.OW; ow++) {
				i64 w0 = ow * g.W / g.OW, w1 = ((ow + 1) * g.W + g.OW - 1) / g.OW;
				if (iw < w0 || iw >= w1) continue;
				s += gy[pl * l + oh * g.OW + ow] / (float)((h1 - h0) * (w1 - w0));
			}
		}
		dx[t] = s;
	}
}

// One block per channel of x viewed as [outer, c, inner]: the mean, then
// the deviations from its float rounding, as the CPU device computes them.
extern "C" __global__ void dg_channel_stats(float* mean, float* var, const float* x, i64 outer, i64 c, i64 inner) {
	__shared__ double s1[DG_BLOCK];
	__shared__ double s2[DG_BLOCK];
	i64 cnt = outer * inner;
	for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
		double s = 0.0;
		for (i64 q = threadIdx.x; q < cnt; q += blockDim.x) s += (double)x[((q / inner) * c + ch) * inner + q % inner];
		s1[threadIdx.x] = s;
		dg_block_sum(s1);
		float mf = (float)(s1[0] / (double)cnt);
		__syncthreads();
		double a = 0.0, b = 0.0;
		for (i64 q = threadIdx.x; q < cnt; q += blockDim.x) {
			double d = (double)x[((q / inner) * c + ch) * inner + q % inner] - (double)mf;
			a += d;
			b += d * d;
		}
		s1[threadIdx.x] = a;
		s2[threadIdx.x] = b;
		dg_block_sum2(s1, s2);
		if (threadIdx.x == 0) {
			double d = s1[0] / (double)cnt;
			double v = s2[0] / (double)cnt - d * d;
			mean[ch] = (float)((double)mf + d);
			var[ch] = (float)(v > 0.0 ? v : 0.0);
		}
		__syncthreads();
	}
}

extern "C" __global__ void dg_channel_affine(float* y, const float* x, const float* scale, const float* shift, i64 outer, i64 c, i64 inner) {
	dgLoop(t, outer * c * inner) {
		i64 ch = (t / inner) % c;
		y[t] = x[t] * scale[ch] + (shift ? shift[ch] : 0.0f);
	}
}

// One block per channel: sums[ch] = Σ g, sums[c+ch] = Σ g·(x − m)·rs, and
// their means over the count in sums[2c+ch], sums[3c+ch].
extern "C" __global__ void dg_channel_grad_sums(float* sums, const float* g, const float* x, const float* mean, const float* rstd, i64 outer, i64 c, i64 inner) {
	__shared__ double s1[DG_BLOCK];
	__shared__ double s2[DG_BLOCK];
	i64 cnt = outer * inner;
	for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x) {
		float m = mean ? mean[ch] : 0.0f, rs = rstd ? rstd[ch] : 1.0f;
		double a = 0.0, b = 0.0;
		for (i64 q = threadIdx.x; q < cnt; q += blockDim.x) {
			i64 k = ((q / inner) * c + ch) * inner + q % inner;
			a += (double)g[k];
			b += (double)g[k] * (double)(x[k] - m);
		}
		s1[threadIdx.x] = a;
		s2[threadIdx.x] = b;
		dg_block_sum2(s1, s2);
		if (threadIdx.x == 0) {
			double sg = s1[0], sgx = s2[0] * (double)rs;
			sums[ch] = (float)sg;
			sums[c + ch] = (float)sgx;
			sums[2 * c + ch] = (float)(sg / (double)cnt);
			sums[3 * c + ch] = (float)(sgx / (double)cnt);
		}
		__syncthreads();
	}
}

extern "C" __global__ void dg_channel_grad_dx(float* dx, const float* g, const float* x, const float* mean, const float* rstd, const float* w, const float* sums, i64 outer, i64 c, i64 inner, int batchStats) {
	dgLoop(t, outer * c * inner) {
		i64 ch = (t / inner) % c;
		float m = mean ? mean[ch] : 0.0f, rs = rstd ? rstd[ch] : 1.0f;
		float k = w ? rs * w[ch] : rs;
		if (!batchStats) {
			dx[t] = k * g[t];
		} else {
			float a = sums[2 * c + ch], b = sums[3 * c + ch];
			dx[t] = k * (g[t] - a - (x[t] - m) * rs * b);
		}
	}
}

extern "C" __global__ void dg_copy_sums(float* dw, float* db, const float* sums, i64 c) {
	dgLoop(ch, c) {
		if (dw) dw[ch] = sums[c + ch];
		if (db) db[ch] = sums[ch];
	}
}

extern "C" __global__ void dg_gather(float* d, const float* s, const int* idx, i64 outer, i64 n, i64 inner, i64 k) {
	dgLoop(t, outer * k * inner) {
		i64 i = t % inner, o = t / (k * inner);
		d[t] = s[(o * n + idx[t]) * inner + i];
	}
}

extern "C" __global__ void dg_scatter_add(float* d, const float* s, const int* idx, i64 outer, i64 n, i64 inner, i64 k) {
	dgLoop(t, outer * k * inner) {
		i64 i = t % inner, o = t / (k * inner);
		atomicAdd(&d[(o * n + idx[t]) * inner + i], s[t]);
	}
}

// Rows order[start[s]] .. order[start[s+1]-1] of src make segment s.
extern "C" __global__ void dg_segment_sum(float* d, const float* s, const int* order, const int* start, i64 segments, i64 inner) {
	dgLoop(t, segments * inner) {
		i64 i = t % inner, sg = t / inner;
		float acc = 0.0f;
		for (int p = start[sg]; p < start[sg + 1]; p++) acc += s[(i64)order[p] * inner + i];
		d[t] = acc;
	}
}

// y[r, t] = Σ_{s≤t} k[r', s]·u[r, t−s], accumulated in double.
extern "C" __global__ void dg_causal_conv(float* y, const float* u, const float* k, i64 b, i64 h, i64 l, int kBatched) {
	dgLoop(q, b * h * l) {
		i64 t = q % l, r = q / l;
		const float* kr = k + (kBatched ? r : r % h) * l;
		const float* ur = u + r * l;
		double acc = 0.0;
		for (i64 s = 0; s <= t; s++) acc += (double)kr[s] * (double)ur[t - s];
		y[q] = (float)acc;
	}
}
`

var modNN = &kernelModule{name: "nn", source: func() string { return nnSource },
	kernels: []string{"dg_im2col", "dg_col2im", "dg_depthwise", "dg_depthwise_dx", "dg_depthwise_dw",
		"dg_maxpool", "dg_maxpool_grad", "dg_avgpool", "dg_avgpool_grad", "dg_adaptive_avgpool", "dg_adaptive_avgpool_grad",
		"dg_channel_stats", "dg_channel_affine", "dg_channel_grad_sums", "dg_channel_grad_dx", "dg_copy_sums",
		"dg_gather", "dg_scatter_add", "dg_segment_sum", "dg_causal_conv"}}
