package main

// patternLen is the period of the uploaded bytes: 16 MiB of pseudo-random
// bytes and a few more, so that no compressor window sees a repetition and
// no part of a power-of-two size equals another.
const patternLen = 16<<20 + 4099
