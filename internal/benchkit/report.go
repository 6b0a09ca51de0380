package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
)

// Platform says where a benchmark ran. Embedded in a report struct, its
// fields are the report's first JSON fields.
type Platform struct {
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
}

// CurrentPlatform returns the platform of this process.
func CurrentPlatform() Platform {
	return Platform{
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
	}
}

// WriteJSON writes v to w as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Optional formats *v with format, or returns "-" if v is nil.
func Optional(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}
