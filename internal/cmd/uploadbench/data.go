package main

import "github.com/tusgo/tus/internal/benchkit"

// patternSize is the period of the uploaded bytes: every request body is
// cut from a pseudo-random buffer of this length.
const patternSize = 4 << 20

// newGenerator returns the generator of every request body, the same every
// run.
func newGenerator() *benchkit.Generator { return benchkit.NewGenerator(patternSize, "uploadbench") }
