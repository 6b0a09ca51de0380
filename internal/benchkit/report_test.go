package benchkit

import (
	"bytes"
	"runtime"
	"testing"
)

func TestWriteJSONFlattensPlatform(t *testing.T) {
	rep := struct {
		Platform
		Rounds int `json:"rounds"`
	}{CurrentPlatform(), 3}
	if rep.CPUs != runtime.NumCPU() || rep.GoVersion != runtime.Version() {
		t.Errorf("CurrentPlatform: %+v", rep.Platform)
	}
	rep.Platform = Platform{GoVersion: "go1", GOOS: "linux", GOARCH: "amd64", CPUs: 2}
	var b bytes.Buffer
	if err := WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"go_version\": \"go1\",\n  \"goos\": \"linux\",\n  \"goarch\": \"amd64\",\n  \"cpus\": 2,\n  \"rounds\": 3\n}\n"
	if b.String() != want {
		t.Errorf("WriteJSON:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestOptional(t *testing.T) {
	v := 1.234
	if got := Optional(&v, "%.2f"); got != "1.23" {
		t.Errorf("Optional(1.234) = %q", got)
	}
	if got := Optional(nil, "%.2f"); got != "-" {
		t.Errorf("Optional(nil) = %q", got)
	}
}
