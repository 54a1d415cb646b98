package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// This file holds the graph time series of the spatio-temporal forecasters
// (models/stgnn), after TorchSpatiotemporal/tsl: the GPVAR generator of
// tsl.datasets.GPVARDataset, a traffic-like generator, readers for real
// sensor data (CSV, NumPy .npy/.npz) and road-distance files, and tsl's
// preprocessing (Gaussian-kernel adjacency, zero-as-missing masks,
// forward filling, a StandardScaler, temporal splits, sliding windows).

// GraphSeries is a multivariate time series on the nodes of a graph: at
// each of Steps time steps, Features values at each of Nodes nodes.
type GraphSeries struct {
	// Name identifies the data ("GPVAR", "traffic", a file name).
	Name string
	// Values holds the readings, Values[(t·Nodes + n)·Features + f].
	// Missing readings hold whatever the source had (zeros for METR-LA)
	// until ForwardFill replaces them.
	Values []float32
	// Mask is 1 where a reading is observed and 0 where it is missing,
	// laid out as Values; nil means every reading is observed.
	Mask []float32
	// Optimal, when non-nil, is the noiseless one-step prediction of each
	// value given the past (known for GPVAR), laid out as Values; the
	// first steps, which have no past, hold 0.
	Optimal []float32
	// Steps, Nodes and Features are the dimensions of Values.
	Steps, Nodes, Features int
	// Edges are the graph's directed edges (source, destination) in
	// PyTorch Geometric's convention, and Weights their weights (nil
	// means 1).
	Edges   [][2]int
	Weights []float32
	// StepsPerDay is the number of steps in a day (288 for 5-minute
	// readings), 0 when the series has no daily clock; FirstStep is the
	// position in the day of step 0.
	StepsPerDay, FirstStep int
}

// check reports an error when the series' slices do not match its
// dimensions or an edge is out of range.
func (s *GraphSeries) check(op string) error {
	if s.Steps < 0 || s.Nodes <= 0 || s.Features <= 0 {
		return fmt.Errorf("data: %s: %d steps, %d nodes, %d features", op, s.Steps, s.Nodes, s.Features)
	}
	n := s.Steps * s.Nodes * s.Features
	if len(s.Values) != n {
		return fmt.Errorf("data: %s: %d values for %d×%d×%d", op, len(s.Values), s.Steps, s.Nodes, s.Features)
	}
	if s.Mask != nil && len(s.Mask) != n {
		return fmt.Errorf("data: %s: mask of %d values for %d", op, len(s.Mask), n)
	}
	if s.Optimal != nil && len(s.Optimal) != n {
		return fmt.Errorf("data: %s: optimal prediction of %d values for %d", op, len(s.Optimal), n)
	}
	if s.Weights != nil && len(s.Weights) != len(s.Edges) {
		return fmt.Errorf("data: %s: %d weights for %d edges", op, len(s.Weights), len(s.Edges))
	}
	for _, e := range s.Edges {
		if e[0] < 0 || e[0] >= s.Nodes || e[1] < 0 || e[1] >= s.Nodes {
			return fmt.Errorf("data: %s: edge %v outside %d nodes", op, e, s.Nodes)
		}
	}
	return nil
}

// Observed reports whether reading i (an index into Values) is observed.
func (s *GraphSeries) Observed(i int) bool { return s.Mask == nil || s.Mask[i] != 0 }

// Slice returns the steps [from, to) as a new series sharing the graph
// (the values are copied).
func (s *GraphSeries) Slice(from, to int) *GraphSeries {
	if from < 0 || to > s.Steps || from > to {
		panic(fmt.Sprintf("data: GraphSeries.Slice: [%d, %d) of %d steps", from, to, s.Steps))
	}
	row := s.Nodes * s.Features
	cp := func(v []float32) []float32 {
		if v == nil {
			return nil
		}
		return append([]float32(nil), v[from*row:to*row]...)
	}
	out := *s
	out.Values, out.Mask, out.Optimal = cp(s.Values), cp(s.Mask), cp(s.Optimal)
	out.Steps = to - from
	if s.StepsPerDay > 0 {
		out.FirstStep = (s.FirstStep + from) % s.StepsPerDay
	}
	return &out
}

// ---------------------------------------------------------------------
// Graphs

// TriCommunityGraph returns tsl's build_tri_community_graph: communities
// of 6 nodes, each a triangle of triangles
//
//	    2
//	   / \
//	  1 - 4
//	 / \ / \
//	0 - 3 - 5
//
// chained by an edge from node 5 of one community to node 0 of the next,
// every edge listed in both directions (9·c + (c−1) undirected edges).
func TriCommunityGraph(communities int) (nodes int, edges [][2]int) {
	base := [][2]int{{0, 1}, {1, 2}, {3, 4}, {1, 3}, {2, 4}, {4, 5}, {0, 3}, {1, 4}, {3, 5}}
	var und [][2]int
	for c := range communities {
		o := 6 * c
		for _, e := range base {
			und = append(und, [2]int{e[0] + o, e[1] + o})
		}
		if c > 0 {
			und = append(und, [2]int{o - 1, o})
		}
	}
	for _, e := range und {
		edges = append(edges, e)
	}
	for _, e := range und {
		edges = append(edges, [2]int{e[1], e[0]})
	}
	return 6 * communities, edges
}

// gcnShift returns the GCN-normalised shift operator of an unweighted
// graph as a dense [n, n] matrix S (S[i, j] weighs node j's value in node
// i's update): self-loops added, then w_ij / √(deg(i)·deg(j)).
func gcnShift(n int, edges [][2]int) []float64 {
	a := make([]float64, n*n)
	for _, e := range edges {
		a[e[1]*n+e[0]] = 1
	}
	for i := range n {
		a[i*n+i] = 1
	}
	deg := make([]float64, n)
	for i := range n {
		for j := range n {
			deg[i] += a[i*n+j]
		}
	}
	for i := range n {
		for j := range n {
			if a[i*n+j] != 0 {
				a[i*n+j] /= math.Sqrt(deg[i] * deg[j])
			}
		}
	}
	return a
}

// GaussianKernelAdjacency turns a dense [n, n] matrix of distances
// (dist[i·n + j] from node i to node j; +Inf or NaN where there is no
// road) into tsl's and DCRNN's adjacency: w_ij = exp(−(d_ij/σ)²) with σ
// the standard deviation of the finite distances (sigma > 0 overrides
// it), weights below threshold (0.1) set to 0, and no self-loops.
func GaussianKernelAdjacency(dist []float64, n int, sigma, threshold float64) ([]float64, error) {
	if n <= 0 || len(dist) != n*n {
		return nil, fmt.Errorf("data: GaussianKernelAdjacency: %d distances for %d nodes", len(dist), n)
	}
	if sigma <= 0 {
		var sum, sq float64
		k := 0
		for _, d := range dist {
			if !math.IsInf(d, 0) && !math.IsNaN(d) {
				sum += d
				sq += d * d
				k++
			}
		}
		if k == 0 {
			return nil, errors.New("data: GaussianKernelAdjacency: no finite distance")
		}
		mean := sum / float64(k)
		sigma = math.Sqrt(math.Max(sq/float64(k)-mean*mean, 0))
		if sigma == 0 {
			return nil, errors.New("data: GaussianKernelAdjacency: every finite distance is equal; pass sigma")
		}
	}
	adj := make([]float64, n*n)
	for i := range n {
		for j := range n {
			d := dist[i*n+j]
			if i == j || math.IsInf(d, 0) || math.IsNaN(d) {
				continue
			}
			if w := math.Exp(-(d / sigma) * (d / sigma)); w >= threshold {
				adj[i*n+j] = w
			}
		}
	}
	return adj, nil
}

// EdgesFromAdjacency lists the non-zero entries of a dense [n, n]
// adjacency as edges i → j (adj[i·n + j] weighs the road from node i to
// node j), row by row, with their weights.
func EdgesFromAdjacency(adj []float64, n int) ([][2]int, []float32) {
	var edges [][2]int
	var w []float32
	for i := range n {
		for j := range n {
			if v := adj[i*n+j]; v != 0 {
				edges = append(edges, [2]int{i, j})
				w = append(w, float32(v))
			}
		}
	}
	return edges, w
}

// ---------------------------------------------------------------------
// GPVAR

// GPVARConfig configures GenerateGPVAR. DefaultGPVARConfig gives tsl's
// GPVARDatasetAZ.
type GPVARConfig struct {
	// Communities is the number of 6-node communities: 5 (30 nodes).
	Communities int
	// Steps is the length of the series: 30000.
	Steps int
	// Theta holds the filter's coefficients Θ[l][p] for hop l = 0..L and
	// lag p (p = 0 is the oldest step, x_{t−P}): [[5, 2], [−4, 6], [−1, 0]].
	Theta [][]float64
	// Sigma is the standard deviation of the noise: 0.4.
	Sigma float64
	// RawAdjacency uses the 0/1 adjacency with self-loops as the shift
	// operator instead of tsl's GCN normalisation D^−½(A+I)D^−½.
	RawAdjacency bool
	// Seed seeds the noise.
	Seed uint64
}

// DefaultGPVARConfig returns tsl's GPVARDatasetAZ: 5 communities (30
// nodes), 30000 steps, Θ = [[5, 2], [−4, 6], [−1, 0]], σ = 0.4, seed 1234.
func DefaultGPVARConfig() GPVARConfig {
	return GPVARConfig{Communities: 5, Steps: 30000, Theta: [][]float64{{5, 2}, {-4, 6}, {-1, 0}}, Sigma: 0.4, Seed: 1234}
}

// GPVARNoiseFloor is the mean absolute error of the Bayes-optimal
// one-step predictor of a GPVAR series with noise σ: E|η| = σ·√(2/π)
// (0.3192 for σ = 0.4). No model beats it on a large test set.
func GPVARNoiseFloor(sigma float64) float64 { return sigma * math.Sqrt(2/math.Pi) }

// GenerateGPVAR generates the graph polynomial VAR series of tsl's
// GPVARDataset (Zambon et al., "AZ-whiteness test", NeurIPS 2022) on a
// TriCommunityGraph, one feature per node:
//
//	x_t = tanh(Σ_{l=0..L} S^l Σ_{p=0..P−1} Θ[l][p]·x_{t−P+p}) + η_t,   η_t ~ N(0, σ²)
//
// with S the GCN-normalised adjacency with self-loops, as tsl's _gcn_gso
// (the raw adjacency with self-loops with RawAdjacency). The first P
// values are pure noise; Optimal holds the noiseless prediction
// tanh(·) of every later step. Edges lists the community graph without
// self-loops and weights 1.
func GenerateGPVAR(cfg GPVARConfig) (*GraphSeries, error) {
	if cfg.Communities < 1 || cfg.Steps < 1 || cfg.Sigma < 0 || len(cfg.Theta) == 0 || len(cfg.Theta[0]) == 0 {
		return nil, fmt.Errorf("data: GenerateGPVAR: config %+v needs communities, steps, Θ and σ ≥ 0", cfg)
	}
	p := len(cfg.Theta[0])
	for _, row := range cfg.Theta {
		if len(row) != p {
			return nil, fmt.Errorf("data: GenerateGPVAR: Θ rows of different lengths %v", cfg.Theta)
		}
	}
	n, edges := TriCommunityGraph(cfg.Communities)
	var s []float64
	if cfg.RawAdjacency {
		s = make([]float64, n*n)
		for _, e := range edges {
			s[e[1]*n+e[0]] = 1
		}
		for i := range n {
			s[i*n+i] = 1
		}
	} else {
		s = gcnShift(n, edges)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6770766172)) // "gpvar"
	total := cfg.Steps + p
	x := make([]float64, total*n)
	for i := range p * n {
		x[i] = rng.NormFloat64() * cfg.Sigma
	}
	opt := make([]float32, cfg.Steps*n)
	h := make([]float64, n)
	tmp := make([]float64, n)
	acc := make([]float64, n)
	for t := p; t < total; t++ {
		// acc = Σ_l S^l h_l with h_l = Σ_p Θ[l][p] x_{t−P+p}, by Horner's rule
		// from the highest hop: acc = h_0 + S(h_1 + S(h_2 + ...)).
		for i := range acc {
			acc[i] = 0
		}
		for l := len(cfg.Theta) - 1; l >= 0; l-- {
			for i := range n {
				v := 0.0
				for q := range p {
					v += cfg.Theta[l][q] * x[(t-p+q)*n+i]
				}
				h[i] = v + acc[i]
			}
			if l == 0 {
				copy(acc, h)
				break
			}
			for i := range n {
				v := 0.0
				for j := range n {
					v += s[i*n+j] * h[j]
				}
				tmp[i] = v
			}
			copy(acc, tmp)
		}
		for i := range n {
			y := math.Tanh(acc[i])
			opt[(t-p)*n+i] = float32(y)
			x[t*n+i] = y + rng.NormFloat64()*cfg.Sigma
		}
	}
	vals := make([]float32, cfg.Steps*n)
	for i := range vals {
		vals[i] = float32(x[p*n+i])
	}
	return &GraphSeries{Name: "GPVAR", Values: vals, Optimal: opt, Steps: cfg.Steps, Nodes: n, Features: 1, Edges: edges}, nil
}

// ---------------------------------------------------------------------
// Traffic-like data

// TrafficConfig configures GenerateTraffic. DefaultTrafficConfig gives a
// small METR-LA-like network.
type TrafficConfig struct {
	// Nodes is the number of sensors: 40.
	Nodes int
	// Days is the length in days of 288 five-minute steps: 21.
	Days int
	// Radius is the road length, in units of the unit square the sensors
	// lie in, under which two sensors are linked: 0.3.
	Radius float64
	// MissingRate is the fraction of readings dropped at random: 0.05.
	MissingRate float64
	// Noise is the standard deviation of the reading noise in mph: 2.
	Noise float64
	// Seed seeds everything.
	Seed uint64
}

// DefaultTrafficConfig returns 40 sensors over 21 days of 5-minute
// readings, roads shorter than 0.3, 5% missing readings and 2 mph noise.
func DefaultTrafficConfig() TrafficConfig {
	return TrafficConfig{Nodes: 40, Days: 21, Radius: 0.3, MissingRate: 0.05, Noise: 2, Seed: 1}
}

// GenerateTraffic generates METR-LA-like speed readings (mph) on a road
// network of sensors:
//
//   - Graph: sensors uniform in the unit square; pairs closer than Radius
//     are linked in both directions, a fifth of them in one direction
//     only (one-way roads), with the road length d (the Euclidean
//     distance times a random detour factor in [1, 1.3]); weights are
//     the Gaussian kernel exp(−(d/σ)²) with σ the standard deviation of
//     the road lengths, kept when ≥ 0.1, without self-loops.
//   - Clock: 288 steps a day; each sensor has a free-flow speed in
//     [55, 70] mph and morning (8:00) and evening (17:30) rush hours of its
//     own depth, width and timing; weekends (days 5 and 6 of each week)
//     have a third of the rush.
//   - Congestion c ∈ [0, 1] per sensor: incidents start at random (about
//     one per sensor every four days), decay over about an hour and
//     spread to the neighbours along the normalised graph,
//     c_t = clip(0.92·(0.6·c_{t−1} + 0.4·P·c_{t−1}) + shocks).
//   - Speed = free-flow·(1 − rush − 0.6·c) + N(0, Noise²), at least 3 mph.
//   - Missing: MissingRate of the readings at random, plus rare sensor
//     outages of 1–3 hours; missing readings are 0 (zeros mean missing,
//     as in METR-LA) and Mask is 0 there.
func GenerateTraffic(cfg TrafficConfig) (*GraphSeries, error) {
	if cfg.Nodes < 2 || cfg.Days < 1 || cfg.Radius <= 0 || cfg.MissingRate < 0 || cfg.MissingRate >= 1 || cfg.Noise < 0 {
		return nil, fmt.Errorf("data: GenerateTraffic: config %+v needs ≥ 2 nodes, ≥ 1 day, a positive radius, a missing rate in [0, 1)", cfg)
	}
	const spd = 288
	n := cfg.Nodes
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x74726166)) // "traf"
	px, py := make([]float64, n), make([]float64, n)
	for i := range n {
		px[i], py[i] = rng.Float64(), rng.Float64()
	}
	dist := make([]float64, n*n)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	for i := range n {
		dist[i*n+i] = 0
		for j := i + 1; j < n; j++ {
			d := math.Hypot(px[i]-px[j], py[i]-py[j])
			if d >= cfg.Radius {
				continue
			}
			d *= 1 + 0.3*rng.Float64()
			switch r := rng.Float64(); {
			case r < 0.1:
				dist[i*n+j] = d
			case r < 0.2:
				dist[j*n+i] = d
			default:
				dist[i*n+j], dist[j*n+i] = d, d
			}
		}
	}
	// σ over the road lengths only (not the zero diagonal).
	roads := make([]float64, 0, n*n)
	for i, d := range dist {
		if i%(n+1) != 0 && !math.IsInf(d, 0) {
			roads = append(roads, d)
		}
	}
	if len(roads) == 0 {
		return nil, fmt.Errorf("data: GenerateTraffic: no two of %d sensors are closer than %v; raise Radius", n, cfg.Radius)
	}
	adj, err := GaussianKernelAdjacency(dist, n, stdDev(roads), 0.1)
	if err != nil {
		return nil, err
	}
	edges, weights := EdgesFromAdjacency(adj, n)
	// Row-normalised propagation: congestion at i mixes that of the
	// sensors linked to it (in either direction).
	prop := make([]float64, n*n)
	for i := range n {
		sum := 0.0
		for j := range n {
			w := adj[i*n+j] + adj[j*n+i]
			prop[i*n+j] = w
			sum += w
		}
		if sum > 0 {
			for j := range n {
				prop[i*n+j] /= sum
			}
		}
	}
	free := make([]float64, n)
	depth := make([][2]float64, n)
	centre := make([][2]float64, n)
	width := make([][2]float64, n)
	for i := range n {
		free[i] = 55 + 15*rng.Float64()
		depth[i] = [2]float64{0.15 + 0.3*rng.Float64(), 0.15 + 0.35*rng.Float64()}
		centre[i] = [2]float64{8 + 0.7*(rng.Float64()-0.5), 17.5 + 0.8*(rng.Float64()-0.5)}
		width[i] = [2]float64{0.8 + 0.6*rng.Float64(), 1 + 0.8*rng.Float64()}
	}
	steps := cfg.Days * spd
	vals := make([]float32, steps*n)
	mask := make([]float32, steps*n)
	c := make([]float64, n)
	cn := make([]float64, n)
	outage := make([]int, n)
	for t := range steps {
		day := t / spd
		hour := float64(t%spd) * 24 / spd
		weekend := day%7 >= 5
		for i := range n {
			v := 0.0
			for j := range n {
				v += prop[i*n+j] * c[j]
			}
			x := 0.92 * (0.6*c[i] + 0.4*v)
			if rng.Float64() < 1.0/(4*spd) {
				x += 0.5 + 0.5*rng.Float64()
			}
			cn[i] = math.Min(math.Max(x, 0), 1)
		}
		c, cn = cn, c
		for i := range n {
			rush := 0.0
			for k := range 2 {
				z := (hour - centre[i][k]) / width[i][k]
				rush += depth[i][k] * math.Exp(-0.5*z*z)
			}
			if weekend {
				rush /= 3
			}
			speed := free[i]*(1-rush-0.6*c[i]) + rng.NormFloat64()*cfg.Noise
			speed = math.Max(speed, 3)
			k := t*n + i
			if outage[i] == 0 && rng.Float64() < 1.0/(10*spd) {
				outage[i] = 12 + rng.IntN(25)
			}
			if outage[i] > 0 {
				outage[i]--
				continue
			}
			if rng.Float64() < cfg.MissingRate {
				continue
			}
			vals[k] = float32(speed)
			mask[k] = 1
		}
	}
	return &GraphSeries{Name: "traffic", Values: vals, Mask: mask, Steps: steps, Nodes: n, Features: 1,
		Edges: edges, Weights: weights, StepsPerDay: spd}, nil
}

func stdDev(v []float64) float64 {
	var sum, sq float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	for _, x := range v {
		sq += (x - mean) * (x - mean)
	}
	return math.Sqrt(sq / float64(len(v)))
}

// ---------------------------------------------------------------------
// Preprocessing

// ZeroAsMissing marks every reading equal to 0 as missing (Mask 0), the
// convention of METR-LA and PEMS-BAY, keeping any mask already there.
func (s *GraphSeries) ZeroAsMissing() {
	if s.Mask == nil {
		s.Mask = make([]float32, len(s.Values))
		for i := range s.Mask {
			s.Mask[i] = 1
		}
	}
	for i, v := range s.Values {
		if v == 0 {
			s.Mask[i] = 0
		}
	}
}

// ForwardFill replaces every missing reading by the last observed one of
// the same node and feature (tsl's fill for METR-LA inputs); readings
// missing before the first observation take the first observed value (0
// when a node is never observed). The mask is kept: it still says which
// readings are real.
func (s *GraphSeries) ForwardFill() {
	if s.Mask == nil {
		return
	}
	row := s.Nodes * s.Features
	for k := range row {
		first := -1
		for t := range s.Steps {
			if s.Mask[t*row+k] != 0 {
				first = t
				break
			}
		}
		if first < 0 {
			for t := range s.Steps {
				s.Values[t*row+k] = 0
			}
			continue
		}
		last := s.Values[first*row+k]
		for t := range s.Steps {
			i := t*row + k
			if s.Mask[i] != 0 {
				last = s.Values[i]
			} else {
				s.Values[i] = last
			}
		}
	}
}

// Scaler is tsl's StandardScaler over (time, nodes): one mean and one
// standard deviation per feature.
type Scaler struct {
	// Mean and Std hold one value per feature; a zero Std is stored as 1.
	Mean, Std []float32
}

// FitScaler fits a Scaler to the observed readings of steps [from, to)
// (the training part).
func FitScaler(s *GraphSeries, from, to int) Scaler {
	if from < 0 || to > s.Steps || from >= to {
		panic(fmt.Sprintf("data: FitScaler: steps [%d, %d) of %d", from, to, s.Steps))
	}
	f := s.Features
	sum, sq, cnt := make([]float64, f), make([]float64, f), make([]float64, f)
	for i := from * s.Nodes * f; i < to*s.Nodes*f; i++ {
		if !s.Observed(i) {
			continue
		}
		v := float64(s.Values[i])
		sum[i%f] += v
		sq[i%f] += v * v
		cnt[i%f]++
	}
	sc := Scaler{Mean: make([]float32, f), Std: make([]float32, f)}
	for k := range f {
		if cnt[k] == 0 {
			sc.Std[k] = 1
			continue
		}
		m := sum[k] / cnt[k]
		sd := math.Sqrt(math.Max(sq[k]/cnt[k]-m*m, 0))
		if sd == 0 {
			sd = 1
		}
		sc.Mean[k], sc.Std[k] = float32(m), float32(sd)
	}
	return sc
}

// Transform scales values laid out with the features last in place:
// (v − mean)/std.
func (sc Scaler) Transform(v []float32) {
	f := len(sc.Mean)
	for i := range v {
		v[i] = (v[i] - sc.Mean[i%f]) / sc.Std[i%f]
	}
}

// Inverse undoes Transform in place.
func (sc Scaler) Inverse(v []float32) {
	f := len(sc.Mean)
	for i := range v {
		v[i] = v[i]*sc.Std[i%f] + sc.Mean[i%f]
	}
}

// TemporalSplit returns the step at which the validation part and the
// test part of a series of the given length start, for tsl's temporal
// split of fractions val and test (0.1 and 0.2): train is [0, valStart),
// validation [valStart, testStart) and test [testStart, steps).
func TemporalSplit(steps int, val, test float64) (valStart, testStart int) {
	testStart = steps - int(math.Round(test*float64(steps)))
	valStart = testStart - int(math.Round(val*float64(steps)))
	return valStart, testStart
}

// GraphWindows cuts a series into the sliding windows of a forecasting
// task: sample i reads the Window steps starting at From + i·Stride as
// input and predicts the Horizon steps after them, all inside [From, To).
type GraphWindows struct {
	// Series is the data: inputs are read from Values (forward-filled and
	// scaled, as the caller prepared them), targets from Targets.
	Series *GraphSeries
	// Targets holds the values to predict, laid out as Series.Values
	// (unscaled, missing readings masked by Series.Mask); nil means
	// Series.Values.
	Targets []float32
	// Window, Horizon and Stride: 12, 12 and 1 in tsl.
	Window, Horizon, Stride int
	// From and To bound the steps the windows may touch.
	From, To int
	// Exog adds the time of day (sin and cos of 2π·step/StepsPerDay) as
	// exogenous input, when the series has a clock.
	Exog bool
}

// NewGraphWindows returns the windows of s between steps from and to.
func NewGraphWindows(s *GraphSeries, targets []float32, window, horizon, stride, from, to int) (*GraphWindows, error) {
	if err := s.check("NewGraphWindows"); err != nil {
		return nil, err
	}
	if window < 1 || horizon < 1 || stride < 1 {
		return nil, fmt.Errorf("data: NewGraphWindows: window %d, horizon %d and stride %d must be positive", window, horizon, stride)
	}
	if from < 0 || to > s.Steps || to-from < window+horizon {
		return nil, fmt.Errorf("data: NewGraphWindows: steps [%d, %d) of %d hold no window of %d + %d", from, to, s.Steps, window, horizon)
	}
	if targets != nil && len(targets) != len(s.Values) {
		return nil, fmt.Errorf("data: NewGraphWindows: %d targets for %d values", len(targets), len(s.Values))
	}
	return &GraphWindows{Series: s, Targets: targets, Window: window, Horizon: horizon, Stride: stride, From: from, To: to}, nil
}

// Len returns the number of windows.
func (w *GraphWindows) Len() int { return (w.To-w.From-w.Window-w.Horizon)/w.Stride + 1 }

// ExogSize returns the number of exogenous features per step and node
// (2 with Exog and a clock, else 0).
func (w *GraphWindows) ExogSize() int {
	if w.Exog && w.Series.StepsPerDay > 0 {
		return 2
	}
	return 0
}

// Start returns the first step of window i's input.
func (w *GraphWindows) Start(i int) int {
	if i < 0 || i >= w.Len() {
		panic(fmt.Sprintf("data: GraphWindows: window %d of %d", i, w.Len()))
	}
	return w.From + i*w.Stride
}

// GraphBatch is a batch of windows, row-major float32 arrays ready for
// tensors.
type GraphBatch struct {
	// X is the input [B, Window, N, F]; U the exogenous input
	// [B, Window, N, ExogSize] (nil without); Y the targets
	// [B, Horizon, N, F] and Mask their mask (1 observed).
	X, U, Y, Mask []float32
	// B is the number of windows.
	B int
}

// Batch gathers the windows idx.
func (w *GraphWindows) Batch(idx []int) GraphBatch {
	s := w.Series
	row := s.Nodes * s.Features
	tg := w.Targets
	if tg == nil {
		tg = s.Values
	}
	b := GraphBatch{B: len(idx),
		X:    make([]float32, 0, len(idx)*w.Window*row),
		Y:    make([]float32, 0, len(idx)*w.Horizon*row),
		Mask: make([]float32, 0, len(idx)*w.Horizon*row)}
	ne := w.ExogSize()
	for _, i := range idx {
		t0 := w.Start(i)
		b.X = append(b.X, s.Values[t0*row:(t0+w.Window)*row]...)
		y0 := t0 + w.Window
		b.Y = append(b.Y, tg[y0*row:(y0+w.Horizon)*row]...)
		if s.Mask == nil {
			for range w.Horizon * row {
				b.Mask = append(b.Mask, 1)
			}
		} else {
			b.Mask = append(b.Mask, s.Mask[y0*row:(y0+w.Horizon)*row]...)
		}
		if ne > 0 {
			for t := t0; t < t0+w.Window; t++ {
				ph := 2 * math.Pi * float64((s.FirstStep+t)%s.StepsPerDay) / float64(s.StepsPerDay)
				sn, cs := float32(math.Sin(ph)), float32(math.Cos(ph))
				for range s.Nodes {
					b.U = append(b.U, sn, cs)
				}
			}
		}
	}
	return b
}

// ---------------------------------------------------------------------
// Files

// LoadGraphSeriesCSV reads readings from a CSV file with one row per time
// step and one column per node (one feature): the first row is a header
// of sensor ids when it has an empty field or a field that is not a
// number above a number in the second row (an all-numeric header without
// a timestamp column reads as data: drop it, or add the column), and a leading
// timestamp column is skipped when its fields do not parse as numbers
// (the layout of METR-LA's h5 exported with pandas' to_csv). Empty and
// NaN fields are read as 0 (missing). It returns the series (no graph)
// and the sensor ids (nil without a header).
func LoadGraphSeriesCSV(path string) (*GraphSeries, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: empty file", path)
	}
	isNum := func(s string) bool { _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); return err == nil }
	var ids []string
	if isCSVHeader(recs, isNum) {
		ids = recs[0]
		recs = recs[1:]
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: a header and no readings", path)
	}
	skip := 0
	if !isNum(recs[0][0]) && strings.TrimSpace(recs[0][0]) != "" {
		skip = 1
	}
	if ids != nil {
		ids = ids[skip:]
	}
	n := len(recs[0]) - skip
	if n < 1 || (ids != nil && len(ids) != n) {
		return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: %d sensor columns and %d ids", path, n, len(ids))
	}
	vals := make([]float32, 0, len(recs)*n)
	for t, rec := range recs {
		if len(rec)-skip != n {
			return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: row %d has %d fields, want %d", path, t+1, len(rec), n+skip)
		}
		for j, fld := range rec[skip:] {
			fld = strings.TrimSpace(fld)
			if fld == "" {
				vals = append(vals, 0)
				continue
			}
			v, err := strconv.ParseFloat(fld, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("data: LoadGraphSeriesCSV %s: row %d, column %d: %w", path, t+1, j+skip+1, err)
			}
			if math.IsNaN(v) {
				v = 0
			}
			vals = append(vals, float32(v))
		}
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return &GraphSeries{Name: name, Values: vals, Steps: len(recs), Nodes: n, Features: 1}, ids, nil
}

// isCSVHeader reports whether the first record is a header: it has an
// empty field, or a field that is not a number where the second record
// has a number.
func isCSVHeader(recs [][]string, isNum func(string) bool) bool {
	for j, f := range recs[0] {
		if strings.TrimSpace(f) == "" {
			return true
		}
		if len(recs) > 1 && j < len(recs[1]) && !isNum(f) && isNum(recs[1][j]) {
			return true
		}
	}
	return false
}

// LoadGraphSeriesNPZ reads readings from array key of a NumPy .npz file
// (or from a .npy file, when path ends in .npy and key is ignored): a
// [T, N] or [T, N, F] array of any supported dtype.
func LoadGraphSeriesNPZ(path, key string) (*GraphSeries, error) {
	var a *NPYArray
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		var err error
		if a, err = ReadNPYFile(path); err != nil {
			return nil, err
		}
	} else {
		arrs, err := ReadNPZ(path)
		if err != nil {
			return nil, err
		}
		var ok bool
		if a, ok = arrs[key]; !ok {
			keys := make([]string, 0, len(arrs))
			for k := range arrs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("data: LoadGraphSeriesNPZ %s: no array %q; it holds %v", path, key, keys)
		}
	}
	f := 1
	switch len(a.Shape) {
	case 2:
	case 3:
		f = a.Shape[2]
	default:
		return nil, fmt.Errorf("data: LoadGraphSeriesNPZ %s: array of shape %v is not [T, N] or [T, N, F]", path, a.Shape)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return &GraphSeries{Name: name, Values: a.Float32(), Steps: a.Shape[0], Nodes: a.Shape[1], Features: f}, nil
}

// LoadDistancesCSV reads a road-distance file in METR-LA's layout
// (distances_la_2012.csv): rows "from,to,cost" with an optional header,
// sensor ids as strings. ids lists the sensors in the order of the series'
// columns; pairs naming other sensors are skipped. It returns the dense
// [n, n] distance matrix, +Inf where the file gives no distance (the
// diagonal included), as DCRNN's gen_adj_mx builds it.
func LoadDistancesCSV(path string, ids []string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: LoadDistancesCSV: %w", err)
	}
	defer f.Close()
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[strings.TrimSpace(id)] = i
	}
	n := len(ids)
	dist := make([]float64, n*n)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data: LoadDistancesCSV %s: %w", path, err)
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("data: LoadDistancesCSV %s: line %d has %d fields; want from,to,distance", path, line, len(rec))
		}
		d, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("data: LoadDistancesCSV %s: line %d: %w", path, line, err)
		}
		i, ok1 := pos[normID(rec[0])]
		j, ok2 := pos[normID(rec[1])]
		if ok1 && ok2 {
			dist[i*n+j] = d
		}
	}
	return dist, nil
}

// normID trims an id and drops a ".0" that a float-formatted id carries.
func normID(s string) string {
	return strings.TrimSuffix(strings.TrimSpace(s), ".0")
}

// LoadMatrixCSV reads a dense square matrix (an adjacency or a distance
// matrix) from a CSV file without header, n rows of n numbers; "inf" and
// empty fields read as +Inf.
func LoadMatrixCSV(path string) ([]float64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("data: LoadMatrixCSV: %w", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, 0, fmt.Errorf("data: LoadMatrixCSV %s: %w", path, err)
	}
	n := len(recs)
	out := make([]float64, 0, n*n)
	for i, rec := range recs {
		if len(rec) != n {
			return nil, 0, fmt.Errorf("data: LoadMatrixCSV %s: row %d has %d fields; a %d×%d matrix needs %d", path, i+1, len(rec), n, n, n)
		}
		for _, fld := range rec {
			fld = strings.TrimSpace(fld)
			if fld == "" {
				out = append(out, math.Inf(1))
				continue
			}
			v, err := strconv.ParseFloat(fld, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("data: LoadMatrixCSV %s: row %d: %w", path, i+1, err)
			}
			out = append(out, v)
		}
	}
	return out, n, nil
}

// SensorConfig configures LoadSensorData.
type SensorConfig struct {
	// Readings is a CSV file (see LoadGraphSeriesCSV) or a .npz/.npy file
	// (see LoadGraphSeriesNPZ).
	Readings string
	// Key names the array in a .npz file; empty means "data".
	Key string
	// Distances is a CSV of from,to,distance rows (METR-LA's
	// distances file; needs sensor ids in the readings' header, or IDs)
	// or, with DenseDistances, a dense n×n distance matrix.
	Distances      string
	DenseDistances bool
	// Adjacency, used instead of Distances, is a dense n×n weight matrix
	// taken as it is.
	Adjacency string
	// IDs names the sensors in column order when the readings have no
	// header.
	IDs []string
	// Threshold drops Gaussian-kernel weights below it; zero means 0.1.
	Threshold float64
	// StepsPerDay is the readings' clock (288 for 5-minute data); zero
	// means none.
	StepsPerDay int
}

// LoadSensorData reads real sensor readings and their road graph with
// tsl's METR-LA preprocessing: zeros are missing readings (Mask 0), the
// Gaussian-kernel adjacency of the distances (σ = std of the finite
// distances, weights below 0.1 dropped, no self-loops) gives the edges.
// Forward filling and scaling are left to the caller, who knows the
// training part (see ForwardFill and FitScaler).
func LoadSensorData(cfg SensorConfig) (*GraphSeries, error) {
	var s *GraphSeries
	ids := cfg.IDs
	switch ext := strings.ToLower(filepath.Ext(cfg.Readings)); ext {
	case ".npz", ".npy":
		key := cfg.Key
		if key == "" {
			key = "data"
		}
		var err error
		if s, err = LoadGraphSeriesNPZ(cfg.Readings, key); err != nil {
			return nil, err
		}
	default:
		var hdr []string
		var err error
		if s, hdr, err = LoadGraphSeriesCSV(cfg.Readings); err != nil {
			return nil, err
		}
		if ids == nil {
			ids = hdr
		}
	}
	th := cfg.Threshold
	if th == 0 {
		th = 0.1
	}
	n := s.Nodes
	var adj []float64
	switch {
	case cfg.Adjacency != "":
		m, k, err := LoadMatrixCSV(cfg.Adjacency)
		if err != nil {
			return nil, err
		}
		if k != n {
			return nil, fmt.Errorf("data: LoadSensorData: adjacency %s is %d×%d for %d sensors", cfg.Adjacency, k, k, n)
		}
		for i := range m {
			if math.IsInf(m[i], 0) || math.IsNaN(m[i]) || i%(n+1) == 0 {
				m[i] = 0
			}
		}
		adj = m
	case cfg.Distances != "":
		var dist []float64
		if cfg.DenseDistances {
			m, k, err := LoadMatrixCSV(cfg.Distances)
			if err != nil {
				return nil, err
			}
			if k != n {
				return nil, fmt.Errorf("data: LoadSensorData: distances %s are %d×%d for %d sensors", cfg.Distances, k, k, n)
			}
			dist = m
		} else {
			if len(ids) != n {
				return nil, fmt.Errorf("data: LoadSensorData: %s lists distances by sensor id; the readings have no header of %d ids, so pass IDs", cfg.Distances, n)
			}
			var err error
			if dist, err = LoadDistancesCSV(cfg.Distances, ids); err != nil {
				return nil, err
			}
		}
		var err error
		if adj, err = GaussianKernelAdjacency(dist, n, 0, th); err != nil {
			return nil, fmt.Errorf("%w (%s)", err, cfg.Distances)
		}
	default:
		return nil, errors.New("data: LoadSensorData: no Distances or Adjacency file; the forecasters need a graph")
	}
	s.Edges, s.Weights = EdgesFromAdjacency(adj, n)
	s.StepsPerDay = cfg.StepsPerDay
	s.ZeroAsMissing()
	return s, nil
}
