package autograd

import (
	"math/rand/v2"
)

// RNG is an explicit, seeded random number generator (PCG). The same seed
// gives the same numbers on every run and every machine, whatever device the
// tensors end up on: values are drawn on the host and then copied. An RNG is
// not safe for concurrent use.
type RNG struct {
	r *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	return &RNG{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// NormFloat32 returns a standard normal value.
func (g *RNG) NormFloat32() float32 { return float32(g.r.NormFloat64()) }

// IntN returns a uniform integer in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Uint64 returns a uniform 64-bit value (for seeding other generators).
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// Uniform returns a CPU tensor of values drawn uniformly from [lo, hi).
func (g *RNG) Uniform(lo, hi float32, shape ...int) *Tensor {
	checkRank("Uniform", shape)
	data := make([]float32, numel("Uniform", shape))
	for i := range data {
		data[i] = lo + (hi-lo)*g.r.Float32()
	}
	return New(data, shape...)
}

// Normal returns a CPU tensor of values drawn from N(mean, std²).
func (g *RNG) Normal(mean, std float32, shape ...int) *Tensor {
	checkRank("Normal", shape)
	data := make([]float32, numel("Normal", shape))
	for i := range data {
		data[i] = mean + std*float32(g.r.NormFloat64())
	}
	return New(data, shape...)
}
