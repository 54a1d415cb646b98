package data

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// Transform changes one example before it is batched: a normalisation or
// a random augmentation. rng is seeded for this example and epoch by the
// Loader (see LoaderConfig.Transforms); a deterministic transform ignores
// it. A transform may change ex.Data in place and return ex, as the data
// belongs to the caller of Dataset.Item.
type Transform func(ex Example, rng *autograd.RNG) (Example, error)

// Normalize returns a transform that maps each value x of channel c to
// (x − mean[c]) / std[c], as torchvision's Normalize. The channel is the
// first dimension of the example's shape; a single mean and std apply to
// every channel.
func Normalize(mean, std []float32) Transform {
	if len(mean) == 0 || len(mean) != len(std) {
		return errTransform(fmt.Errorf("data: Normalize: %d means and %d standard deviations; give one of each per channel", len(mean), len(std)))
	}
	for _, s := range std {
		if !(s > 0) {
			return errTransform(fmt.Errorf("data: Normalize: standard deviation %v is not positive", s))
		}
	}
	return func(ex Example, _ *autograd.RNG) (Example, error) {
		c := ex.Shape[0]
		if len(mean) != 1 && len(mean) != c {
			return ex, fmt.Errorf("data: Normalize: %d means for an example of shape %v with %d channels", len(mean), ex.Shape, c)
		}
		per := len(ex.Data) / c
		for ch := 0; ch < c; ch++ {
			m, s := mean[0], std[0]
			if len(mean) > 1 {
				m, s = mean[ch], std[ch]
			}
			inv := 1 / s
			xs := ex.Data[ch*per : (ch+1)*per]
			for i, x := range xs {
				xs[i] = (x - m) * inv
			}
		}
		return ex, nil
	}
}

func errTransform(err error) Transform {
	return func(ex Example, _ *autograd.RNG) (Example, error) { return ex, err }
}

// imageDims returns the channels, height and width of an image example of
// shape [C, H, W] (or [H, W], one channel).
func imageDims(op string, ex Example) (c, h, w int, err error) {
	switch len(ex.Shape) {
	case 2:
		return 1, ex.Shape[0], ex.Shape[1], nil
	case 3:
		return ex.Shape[0], ex.Shape[1], ex.Shape[2], nil
	}
	return 0, 0, 0, fmt.Errorf("data: %s: example of shape %v is not an image; want [C, H, W] or [H, W]", op, ex.Shape)
}

// RandomCrop returns a transform that pads an image of shape [C, H, W]
// (or [H, W]) with padding zeros on each side and crops a random H×W
// window of the result, as torchvision's RandomCrop(size, padding) with
// the size of the input: a random shift of up to padding pixels in each
// direction.
func RandomCrop(padding int) Transform {
	if padding < 0 {
		return errTransform(fmt.Errorf("data: RandomCrop: negative padding %d", padding))
	}
	return func(ex Example, rng *autograd.RNG) (Example, error) {
		c, h, w, err := imageDims("RandomCrop", ex)
		if err != nil || padding == 0 {
			return ex, err
		}
		// The window's top-left corner in padded coordinates, as an offset
		// of −padding..padding from the original image.
		dy := rng.IntN(2*padding+1) - padding
		dx := rng.IntN(2*padding+1) - padding
		if dy == 0 && dx == 0 {
			return ex, nil
		}
		out := make([]float32, len(ex.Data))
		for ch := 0; ch < c; ch++ {
			src := ex.Data[ch*h*w : (ch+1)*h*w]
			dst := out[ch*h*w : (ch+1)*h*w]
			for y := 0; y < h; y++ {
				sy := y + dy
				if sy < 0 || sy >= h {
					continue
				}
				x0, x1 := max(0, -dx), min(w, w-dx)
				if x0 < x1 {
					copy(dst[y*w+x0:y*w+x1], src[sy*w+x0+dx:sy*w+x1+dx])
				}
			}
		}
		ex.Data = out
		return ex, nil
	}
}

// RandomHorizontalFlip returns a transform that mirrors an image of shape
// [C, H, W] (or [H, W]) left to right with probability p, as torchvision's
// RandomHorizontalFlip. Leave it out for digits and text, whose mirror
// images are not examples of the same class.
func RandomHorizontalFlip(p float64) Transform {
	if p < 0 || p > 1 || math.IsNaN(p) {
		return errTransform(fmt.Errorf("data: RandomHorizontalFlip: probability %v is not in [0, 1]", p))
	}
	return func(ex Example, rng *autograd.RNG) (Example, error) {
		c, h, w, err := imageDims("RandomHorizontalFlip", ex)
		if err != nil {
			return ex, err
		}
		if float64(rng.Float32()) >= p {
			return ex, nil
		}
		for r := 0; r < c*h; r++ {
			row := ex.Data[r*w : (r+1)*w]
			for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
		return ex, nil
	}
}

// MeanStd returns the mean and the (population) standard deviation of
// every channel of the dataset's examples, the first dimension of their
// shape, accumulated in float64: the values to give Normalize. It reads
// every example once.
func MeanStd(ds Dataset) (mean, std []float32, err error) {
	var sum, sq []float64
	var count int
	for i := 0; i < ds.Len(); i++ {
		ex, err := ds.Item(i)
		if err != nil {
			return nil, nil, fmt.Errorf("data: MeanStd: example %d: %w", i, err)
		}
		if len(ex.Shape) == 0 {
			return nil, nil, fmt.Errorf("data: MeanStd: example %d has no shape", i)
		}
		c := ex.Shape[0]
		if sum == nil {
			sum, sq = make([]float64, c), make([]float64, c)
		} else if c != len(sum) {
			return nil, nil, fmt.Errorf("data: MeanStd: example %d has %d channels, the first had %d", i, c, len(sum))
		}
		per := len(ex.Data) / c
		for ch := 0; ch < c; ch++ {
			var s, q float64
			for _, x := range ex.Data[ch*per : (ch+1)*per] {
				s += float64(x)
				q += float64(x) * float64(x)
			}
			sum[ch] += s
			sq[ch] += q
		}
		count += per
	}
	if count == 0 {
		return nil, nil, fmt.Errorf("data: MeanStd: the dataset is empty")
	}
	mean, std = make([]float32, len(sum)), make([]float32, len(sum))
	for ch := range sum {
		m := sum[ch] / float64(count)
		mean[ch] = float32(m)
		std[ch] = float32(math.Sqrt(max(sq[ch]/float64(count)-m*m, 0)))
	}
	return mean, std, nil
}
