package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tusgo/tus/internal/benchkit"
)

// report is everything a benchmark run found; it is printed as tables or
// as JSON.
type report struct {
	benchkit.Platform
	Config    reportConfig     `json:"config"`
	Scenarios []scenarioResult `json:"scenarios"`
	Memory    []memoryPoint    `json:"memory"`
	Profiles  []string         `json:"cpu_profiles,omitempty"`
}

// reportConfig records the settings of the run.
type reportConfig struct {
	Servers          []string `json:"servers"`
	Rounds           int      `json:"rounds"`
	Concurrency      int      `json:"concurrency"`
	LargeConcurrency int      `json:"large_concurrency"`
	LargeSize        int64    `json:"large_size"`
	ChunkedSize      int64    `json:"chunked_size"`
	ChunkSize        int64    `json:"chunk_size"`
	SmallUploads     int      `json:"small_uploads"`
	SmallSize        int64    `json:"small_size"`
	Settle           bool     `json:"settle"`
	TmpDir           string   `json:"tmpdir"`
}

// scenarioResult is the outcome of one scenario on every server.
type scenarioResult struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Unit        string         `json:"unit"`
	CPUUnit     string         `json:"cpu_unit"`
	Results     []serverResult `json:"results"`
}

// serverResult is the outcome of one scenario on one server. Medians are
// taken over the rounds, each metric on its own.
type serverResult struct {
	Server   string    `json:"server"`
	Median   float64   `json:"median"`
	Rounds   []float64 `json:"rounds"`
	Ratio    *float64  `json:"ratio_vs_baseline,omitempty"`
	Elapsed  []float64 `json:"elapsed_s"`
	CPUCost  *float64  `json:"server_cpu,omitempty"` // in the scenario's CPUUnit
	P50ms    *float64  `json:"p50_ms,omitempty"`
	P99ms    *float64  `json:"p99_ms,omitempty"`
	LastDisk string    `json:"disk_after_last_run"`
}

// memoryPoint is the memory of every server at one point of the run.
type memoryPoint struct {
	Point   string         `json:"point"`
	Servers []serverMemory `json:"servers"`
}

// serverMemory is one server's memory in MiB.
type serverMemory struct {
	Server   string  `json:"server"`
	VmHWMMiB float64 `json:"vmhwm_mib"`
	VmRSSMiB float64 `json:"vmrss_mib"`
	Error    string  `json:"error,omitempty"`
}

func newReport(cfg config) *report {
	return &report{
		Platform: benchkit.CurrentPlatform(),
		Config: reportConfig{
			Servers:          cfg.servers,
			Rounds:           cfg.rounds,
			Concurrency:      cfg.conc,
			LargeConcurrency: cfg.largeConc,
			LargeSize:        cfg.largeSize,
			ChunkedSize:      cfg.chunkedSize,
			ChunkSize:        cfg.chunkSize,
			SmallUploads:     cfg.smallN,
			SmallSize:        cfg.smallSize,
			Settle:           cfg.settle,
			TmpDir:           cfg.tmpDir,
		},
	}
}

// addMemory records the memory of every server now.
func (rep *report) addMemory(point string, servers []*server) {
	p := memoryPoint{Point: point}
	for _, s := range servers {
		sm := serverMemory{Server: s.name}
		if m, err := benchkit.ReadMem(s.PID()); err != nil {
			sm.Error = err.Error()
		} else {
			sm.VmHWMMiB, sm.VmRSSMiB = m.HWMMiB(), m.RSSMiB()
		}
		p.Servers = append(p.Servers, sm)
	}
	rep.Memory = append(rep.Memory, p)
}

// summarize turns the runs of a scenario into its result.
func summarize(sc scenario, servers []*server, runs map[string][]runResult, costs map[string][]float64) scenarioResult {
	res := scenarioResult{Name: sc.name, Description: sc.desc, Unit: sc.unit(), CPUUnit: sc.cpuUnit()}
	var baseline *float64
	for _, s := range servers {
		rs := runs[s.name]
		sr := serverResult{Server: s.name}
		var p50, p99 []float64
		for _, r := range rs {
			sr.Rounds = append(sr.Rounds, r.value)
			sr.Elapsed = append(sr.Elapsed, r.elapsed.Seconds())
			if r.p50 > 0 {
				p50 = append(p50, float64(r.p50.Microseconds())/1000)
				p99 = append(p99, float64(r.p99.Microseconds())/1000)
			}
		}
		if len(rs) > 0 {
			sr.LastDisk = rs[len(rs)-1].disk.String()
		}
		sr.Median = benchkit.Median(sr.Rounds)
		if c := costs[s.name]; len(c) == len(rs) && len(c) > 0 {
			v := benchkit.Median(c)
			sr.CPUCost = &v
		}
		if len(p50) > 0 {
			a, b := benchkit.Median(p50), benchkit.Median(p99)
			sr.P50ms, sr.P99ms = &a, &b
		}
		if s.name == kindBaseline {
			m := sr.Median
			baseline = &m
		}
		res.Results = append(res.Results, sr)
	}
	if baseline != nil && *baseline > 0 {
		for i := range res.Results {
			r := res.Results[i].Median / *baseline
			res.Results[i].Ratio = &r
		}
	}
	return res
}

func (rep *report) writeJSON(w io.Writer) error { return benchkit.WriteJSON(w, rep) }

// writeText prints one table per scenario and the memory table.
func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "uploadbench: %s %s/%s, %d CPUs, storage in %s, median of %d rounds (server order alternates); MB = 10^6 bytes\n",
		rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPUs, rep.Config.TmpDir, rep.Config.Rounds)
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(&b, "\n%s: %s\n", sc.Name, sc.Description)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		perUpload := sc.Unit == "uploads/s"
		header := fmt.Sprintf("server\t%s\tvs baseline\trounds\t%s", sc.Unit, sc.CPUUnit)
		if perUpload {
			header += "\tp50 ms\tp99 ms"
		}
		fmt.Fprintln(tw, header+"\t")
		for _, r := range sc.Results {
			rounds := make([]string, len(r.Rounds))
			for i, v := range r.Rounds {
				rounds[i] = fmt.Sprintf("%.0f", v)
			}
			line := fmt.Sprintf("%s\t%.1f\t%s\t%s\t%s", r.Server, r.Median, benchkit.Optional(r.Ratio, "%.2f"), strings.Join(rounds, " "), benchkit.Optional(r.CPUCost, "%.1f"))
			if perUpload {
				line += fmt.Sprintf("\t%s\t%s", benchkit.Optional(r.P50ms, "%.2f"), benchkit.Optional(r.P99ms, "%.2f"))
			}
			fmt.Fprintln(tw, line+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, r := range sc.Results {
			fmt.Fprintf(&b, "  disk after a run, %s: %s\n", r.Server, r.LastDisk)
		}
	}

	if len(rep.Memory) > 0 {
		fmt.Fprintf(&b, "\nserver memory, MiB: peak RSS since start (VmHWM) / current RSS (VmRSS)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := "point"
		for _, sm := range rep.Memory[0].Servers {
			header += "\t" + sm.Server
		}
		fmt.Fprintln(tw, header+"\t")
		for _, p := range rep.Memory {
			line := p.Point
			for _, sm := range p.Servers {
				if sm.Error != "" {
					line += "\tn/a"
				} else {
					line += fmt.Sprintf("\t%.1f / %.1f", sm.VmHWMMiB, sm.VmRSSMiB)
				}
			}
			fmt.Fprintln(tw, line+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Profiles) > 0 {
		fmt.Fprintf(&b, "\nCPU profiles (whole life of each server): %s\n  go tool pprof -top %s\n", strings.Join(rep.Profiles, " "), rep.Profiles[0])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
