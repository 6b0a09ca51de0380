package tus

import (
	"encoding/base64"
	"testing"
)

var (
	sinkInt  int64
	sinkBool bool
	sinkAny  any
)

func BenchmarkParseUint(b *testing.B) {
	for _, s := range []string{"0", "1048576", "9223372036854775807"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				sinkInt, sinkBool = parseUint(s)
			}
		})
	}
}

func BenchmarkParseChecksum(b *testing.B) {
	for alg, size := range map[string]int{"sha1": 20, "sha256": 32, "crc32": 4} {
		v := alg + " " + base64.StdEncoding.EncodeToString(make([]byte, size))
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				c, err := parseChecksum(v)
				if err != nil {
					b.Fatal(err)
				}
				sinkAny = c
			}
		})
	}
}

func BenchmarkParseConcat(b *testing.B) {
	v := "final;https://tus.example.org/files/0123456789abcdef0123456789abcdef https://tus.example.org/files/fedcba9876543210fedcba9876543210"
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		_, ids, err := parseConcat(v, ownURLs{hosts: [3]string{"tus.example.org"}, path: "/files/"})
		if err != nil || len(ids) != 2 {
			b.Fatal(ids, err)
		}
	}
}
