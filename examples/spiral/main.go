// Command spiral trains a small multilayer perceptron on the classic
// interleaved-spirals problem, using nothing but deepgo's autograd ops.
//
// The data set is generated in code from a seed (no downloads): K arms of a
// spiral, one per class, with Gaussian jitter on the angle. A random part of
// it is held out as a test set. The model is
//
//	logits = tanh(x·W1 + b1)·W2 + b2
//
// trained with the negative log-likelihood of LogSoftmax, written from ops
// (a one-hot mask times the log-probabilities, summed), and plain SGD with
// momentum written here under autograd.NoGrad, updating the parameters in
// place through HostData.
//
// Run it with
//
//	go run ./examples/spiral
//	go run ./examples/spiral -seed 7 -epochs 2000 -hidden 128
//
// It prints progress lines and ends with one line of key=value results, for
// example
//
//	train_loss=0.0189 train_accuracy=0.9967 test_accuracy=0.9967 train_seconds=2.15 epochs=1000 params=387 seed=1
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/deepgo/deepgo/autograd"
)

// dataset is a set of 2-D points with integer class labels.
type dataset struct {
	x      *autograd.Tensor // (n, 2)
	labels []int            // n class indices
	onehot *autograd.Tensor // (n, classes)
}

func (d dataset) len() int { return len(d.labels) }

// makeSpirals returns perClass points on each of classes spiral arms, arm by
// arm. Point i of arm k has radius r = i/(perClass−1) and angle
// θ = 4r + 2πk/classes plus Gaussian jitter of noise radians, so the arms
// wind around each other as in the CS231n spiral data.
func makeSpirals(rng *autograd.RNG, classes, perClass int, noise float64) (xs []float32, labels []int) {
	n := classes * perClass
	xs = make([]float32, 0, 2*n)
	labels = make([]int, 0, n)
	for k := 0; k < classes; k++ {
		for i := 0; i < perClass; i++ {
			r := float64(i) / float64(perClass-1)
			theta := 4*r + 2*math.Pi*float64(k)/float64(classes) + noise*float64(rng.NormFloat32())
			xs = append(xs, float32(r*math.Sin(theta)), float32(r*math.Cos(theta)))
			labels = append(labels, k)
		}
	}
	return xs, labels
}

// split shuffles the points with rng and returns the first testFrac of them
// as the test set and the rest as the training set.
func split(rng *autograd.RNG, xs []float32, labels []int, classes int, testFrac float64) (train, test dataset) {
	perm := rng.Perm(len(labels))
	nTest := int(math.Round(testFrac * float64(len(labels))))
	build := func(idx []int) dataset {
		x := make([]float32, 0, 2*len(idx))
		lab := make([]int, 0, len(idx))
		oh := make([]float32, len(idx)*classes)
		for j, i := range idx {
			x = append(x, xs[2*i], xs[2*i+1])
			lab = append(lab, labels[i])
			oh[j*classes+labels[i]] = 1
		}
		return dataset{
			x:      autograd.New(x, len(idx), 2),
			labels: lab,
			onehot: autograd.New(oh, len(idx), classes),
		}
	}
	return build(perm[nTest:]), build(perm[:nTest])
}

// mlp is a two-layer perceptron: Linear, tanh, Linear.
type mlp struct {
	w1, b1, w2, b2 *autograd.Tensor
}

// newMLP initialises weights uniformly in ±1/√fan_in, as torch.nn.Linear does.
func newMLP(rng *autograd.RNG, in, hidden, out int) *mlp {
	lin := func(fanIn, fanOut int) (*autograd.Tensor, *autograd.Tensor) {
		bound := float32(1 / math.Sqrt(float64(fanIn)))
		w := rng.Uniform(-bound, bound, fanIn, fanOut).SetRequiresGrad(true)
		b := rng.Uniform(-bound, bound, fanOut).SetRequiresGrad(true)
		return w, b
	}
	m := &mlp{}
	m.w1, m.b1 = lin(in, hidden)
	m.w2, m.b2 = lin(hidden, out)
	return m
}

func (m *mlp) params() []*autograd.Tensor { return []*autograd.Tensor{m.w1, m.b1, m.w2, m.b2} }

func (m *mlp) numParams() int {
	n := 0
	for _, p := range m.params() {
		n += p.Numel()
	}
	return n
}

// forward returns the logits (n, classes) for x (n, 2).
func (m *mlp) forward(x *autograd.Tensor) *autograd.Tensor {
	h := x.MatMul(m.w1).Add(m.b1).Tanh()
	return h.MatMul(m.w2).Add(m.b2)
}

// nll is the mean negative log-likelihood of the classes picked by onehot
// under log-probabilities logp, built from ops: −Σ(onehot ⊙ logp)/n.
func nll(logp, onehot *autograd.Tensor) *autograd.Tensor {
	n := float32(logp.Size(0))
	return logp.Mul(onehot).Sum().MulScalar(-1 / n)
}

// accuracy returns the fraction of points in d that m classifies correctly.
func accuracy(m *mlp, d dataset) float64 {
	var correct int
	autograd.NoGrad(func() {
		pred := m.forward(d.x).ArgMax(1).Data()
		for i, p := range pred {
			if int(p) == d.labels[i] {
				correct++
			}
		}
	})
	return float64(correct) / float64(d.len())
}

// sgd is stochastic gradient descent with (heavy-ball) momentum, as
// torch.optim.SGD: v ← μv + g, p ← p − lr·v.
type sgd struct {
	params   []*autograd.Tensor
	velocity [][]float32
	lr, mu   float32
}

func newSGD(params []*autograd.Tensor, lr, momentum float32) *sgd {
	s := &sgd{params: params, lr: lr, mu: momentum}
	for _, p := range params {
		s.velocity = append(s.velocity, make([]float32, p.Numel()))
	}
	return s
}

// step updates every parameter in place from its gradient and clears the
// gradients.
func (s *sgd) step() error {
	var err error
	autograd.NoGrad(func() {
		for i, p := range s.params {
			if p.Grad == nil {
				continue
			}
			w, e := p.HostData()
			if e != nil {
				err = e
				return
			}
			g, e := p.Grad.HostData()
			if e != nil {
				err = e
				return
			}
			v := s.velocity[i]
			for j := range w {
				v[j] = s.mu*v[j] + g[j]
				w[j] -= s.lr * v[j]
			}
			p.ZeroGrad()
		}
	})
	return err
}

// batch returns the rows idx of d.
func (d dataset) batch(idx []int) (*autograd.Tensor, *autograd.Tensor) {
	return d.x.IndexSelect(0, idx), d.onehot.IndexSelect(0, idx)
}

func main() {
	seed := flag.Uint64("seed", 1, "random seed for the data, the split, the initial weights and the batch order")
	epochs := flag.Int("epochs", 1000, "passes over the training set")
	hidden := flag.Int("hidden", 64, "hidden units")
	classes := flag.Int("classes", 3, "number of spiral arms (classes)")
	points := flag.Int("points", 400, "points per class")
	noise := flag.Float64("noise", 0.15, "standard deviation of the angular jitter, in radians")
	lr := flag.Float64("lr", 0.5, "learning rate")
	momentum := flag.Float64("momentum", 0.9, "SGD momentum")
	batchSize := flag.Int("batch", 0, "minibatch size; 0 trains on the full batch")
	logEvery := flag.Int("log-every", 0, "epochs between progress lines; 0 prints about 10")
	flag.Parse()

	if *epochs < 1 || *hidden < 1 || *classes < 2 || *points < 2 || *batchSize < 0 {
		fmt.Fprintln(os.Stderr, "spiral: need -epochs ≥ 1, -hidden ≥ 1, -classes ≥ 2, -points ≥ 2 and -batch ≥ 0")
		os.Exit(2)
	}

	rng := autograd.NewRNG(*seed)
	xs, labels := makeSpirals(rng, *classes, *points, *noise)
	train, test := split(rng, xs, labels, *classes, 0.25)
	model := newMLP(rng, 2, *hidden, *classes)
	opt := newSGD(model.params(), float32(*lr), float32(*momentum))
	fmt.Printf("spiral: %d classes, %d train / %d test points, MLP 2-%d-%d (%d parameters), SGD lr %g momentum %g, batch %s\n",
		*classes, train.len(), test.len(), *hidden, *classes, model.numParams(), *lr, *momentum, batchName(*batchSize))

	every := *logEvery
	if every <= 0 {
		every = max(1, *epochs/10)
	}
	bs := *batchSize
	if bs == 0 || bs > train.len() {
		bs = train.len()
	}
	order := make([]int, train.len())
	for i := range order {
		order[i] = i
	}

	start := time.Now()
	var lastLoss float32
	for epoch := 1; epoch <= *epochs; epoch++ {
		if bs < train.len() {
			order = rng.Perm(train.len())
		}
		var sum float64
		var steps int
		for off := 0; off < train.len(); off += bs {
			x, oh := train.x, train.onehot
			if bs < train.len() {
				x, oh = train.batch(order[off:min(off+bs, train.len())])
			}
			loss := nll(model.forward(x).LogSoftmax(1), oh)
			loss.Backward()
			if err := opt.step(); err != nil {
				fmt.Fprintln(os.Stderr, "spiral:", err)
				os.Exit(1)
			}
			sum += float64(loss.Item())
			steps++
		}
		lastLoss = float32(sum / float64(steps))
		if math.IsNaN(float64(lastLoss)) {
			fmt.Fprintf(os.Stderr, "spiral: loss became NaN at epoch %d; lower -lr\n", epoch)
			os.Exit(1)
		}
		if epoch%every == 0 || epoch == *epochs {
			fmt.Printf("epoch %5d/%d  loss %.4f  train acc %.4f  test acc %.4f  (%.2fs)\n",
				epoch, *epochs, lastLoss, accuracy(model, train), accuracy(model, test), time.Since(start).Seconds())
		}
	}
	secs := time.Since(start).Seconds()

	fmt.Printf("train_loss=%.4f train_accuracy=%.4f test_accuracy=%.4f train_seconds=%.2f epochs=%d params=%d seed=%d\n",
		lastLoss, accuracy(model, train), accuracy(model, test), secs, *epochs, model.numParams(), *seed)
}

func batchName(bs int) string {
	if bs == 0 {
		return "full"
	}
	return fmt.Sprint(bs)
}
