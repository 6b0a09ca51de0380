package main

import "github.com/tusgo/tus/internal/benchkit"

// patternLen is the period of the uploaded bytes: 16 MiB of pseudo-random
// bytes and a few more, so that no compressor window sees a repetition and
// no part of a power-of-two size equals another.
const patternLen = 16<<20 + 4099

// newGenerator returns the generator of the bytes of every upload, the same
// every run.
func newGenerator() *benchkit.Generator { return benchkit.NewGenerator(patternLen, "tusgo/s3bench") }
