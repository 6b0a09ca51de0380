package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
)

// measurement is one run of a workload on one server.
type measurement struct {
	Value         float64  `json:"value"`             // MB/s, or operations/s
	Durable       float64  `json:"durable,omitempty"` // the same with syncfs inside the timing
	P50ms         float64  `json:"p50_ms,omitempty"`
	P99ms         float64  `json:"p99_ms,omitempty"`
	CPU           *float64 `json:"cpu_s,omitempty"`
	CallsPerPatch *float64 `json:"s3_calls_per_patch,omitempty"`
	// OwnCallsPerPatch is the same from ours' tusd_s3_calls_total.
	OwnCallsPerPatch *float64 `json:"own_s3_calls_per_patch,omitempty"`
}

func (m measurement) String() string {
	s := fmt.Sprintf("%9.1f", m.Value)
	if m.Durable > 0 {
		s += fmt.Sprintf(" (durable %.1f)", m.Durable)
	}
	if m.P50ms > 0 {
		s += fmt.Sprintf(" p50 %.2f ms p99 %.2f ms", m.P50ms, m.P99ms)
	}
	if m.CPU != nil {
		s += fmt.Sprintf(" CPU %.2fs", *m.CPU)
	}
	return s
}

// figure returns the workload's figure for r taking d: operations/s for
// perOp shapes, else MB/s.
func figure(sh shape, r result, d time.Duration) float64 {
	if sh.perOp {
		n := len(r.uploads)
		if n == 0 {
			n = len(r.lat)
		}
		return float64(n) / d.Seconds()
	}
	return benchkit.MBps(int64(len(r.uploads))*sh.size, d)
}

// measure turns a run into a measurement.
func measure(sh shape, r result, cpu float64, cpuOK bool) measurement {
	m := measurement{Value: figure(sh, r, r.elapsed)}
	if len(r.lat) > 0 {
		p50, p99 := benchkit.Percentiles(r.lat)
		m.P50ms, m.P99ms = float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000
	}
	if cpuOK {
		m.CPU = &cpu
	}
	return m
}

// rows collects one workload's measurements on every server.
type rows struct {
	workload string
	desc     string
	unit     string
	baseline string            // label of the baseline
	labels   []string          // in report order
	kinds    map[string]string // label → kind
	runs     map[string][]measurement
	byRound  map[int]map[string]measurement
	rss      map[string]float64
}

// newRows starts the rows of workload w on servers, baseline the kind
// ratios are taken to.
func newRows(w string, sh shape, servers []*server, baseline string) *rows {
	unit := "MB/s"
	if sh.perOp {
		unit = "ops/s"
	}
	r := &rows{workload: w, desc: sh.describe(), unit: unit, kinds: map[string]string{},
		runs: map[string][]measurement{}, byRound: map[int]map[string]measurement{}, rss: map[string]float64{}}
	for _, s := range servers {
		r.labels = append(r.labels, s.label)
		r.kinds[s.label] = s.kind
		if s.kind == baseline {
			r.baseline = s.label
		}
	}
	return r
}

// add records the measurement of label in round.
func (r *rows) add(round int, label string, m measurement) {
	r.runs[label] = append(r.runs[label], m)
	if r.byRound[round] == nil {
		r.byRound[round] = map[string]measurement{}
	}
	r.byRound[round][label] = m
}

// setRSS records the peak RSS of label after the workload.
func (r *rows) setRSS(label string, mib float64) {
	if mib >= 0 {
		r.rss[label] = mib
	}
}

// row is one line of the table: medians over the rounds.
type row struct {
	Workload      string    `json:"workload"`
	Description   string    `json:"description"`
	Server        string    `json:"server"`
	Unit          string    `json:"unit"`
	Median        float64   `json:"median"`
	Rounds        []float64 `json:"rounds"`
	Ratio         *float64  `json:"ratio_vs_baseline,omitempty"`
	Durable       *float64  `json:"durable_median,omitempty"`
	DurableRatio  *float64  `json:"durable_ratio_vs_baseline,omitempty"`
	P50ms         *float64  `json:"p50_ms,omitempty"`
	P99ms         *float64  `json:"p99_ms,omitempty"`
	CPUs          *float64  `json:"cpu_s,omitempty"`
	CallsPerPatch *float64  `json:"s3_calls_per_patch,omitempty"`
	// OwnCallsPerPatch is ours' own count (tusd_s3_calls_total), which
	// should equal the proxy's.
	OwnCallsPerPatch *float64 `json:"own_s3_calls_per_patch,omitempty"`
	PeakRSSMiB       *float64 `json:"peak_rss_mib,omitempty"`
}

// report is the outcome of a run.
type report struct {
	benchkit.Platform
	Machine string   `json:"machine"`
	Rounds  int      `json:"rounds"`
	Rows    []row    `json:"rows"`
	Notes   []string `json:"notes,omitempty"`
}

func newReport(cfg config) *report {
	return &report{Platform: benchkit.CurrentPlatform(), Machine: machine(), Rounds: cfg.rounds}
}

// add appends the rows of one workload.
func (rep *report) add(r *rows) {
	for _, label := range r.labels {
		ms := r.runs[label]
		if len(ms) == 0 {
			continue
		}
		out := row{Workload: r.workload, Description: r.desc, Server: label, Unit: r.unit}
		var durable, p50, p99, cpu, calls, own []float64
		for _, m := range ms {
			out.Rounds = append(out.Rounds, m.Value)
			if m.Durable > 0 {
				durable = append(durable, m.Durable)
			}
			if m.P50ms > 0 {
				p50, p99 = append(p50, m.P50ms), append(p99, m.P99ms)
			}
			if m.CPU != nil {
				cpu = append(cpu, *m.CPU)
			}
			if m.CallsPerPatch != nil {
				calls = append(calls, *m.CallsPerPatch)
			}
			if m.OwnCallsPerPatch != nil {
				own = append(own, *m.OwnCallsPerPatch)
			}
		}
		out.Median = benchkit.Median(out.Rounds)
		out.Durable, out.P50ms, out.P99ms = medianOf(durable), medianOf(p50), medianOf(p99)
		out.CPUs, out.CallsPerPatch, out.OwnCallsPerPatch = medianOf(cpu), medianOf(calls), medianOf(own)
		if v, ok := r.rss[label]; ok {
			out.PeakRSSMiB = &v
		}
		// Ratios within each round, then their median.
		var ratios, dratios []float64
		for _, byLabel := range r.byRound {
			m, ok1 := byLabel[label]
			b, ok2 := byLabel[r.baseline]
			if !ok1 || !ok2 || b.Value <= 0 {
				continue
			}
			ratios = append(ratios, m.Value/b.Value)
			if b.Durable > 0 && m.Durable > 0 {
				dratios = append(dratios, m.Durable/b.Durable)
			}
		}
		out.Ratio, out.DurableRatio = medianOf(ratios), medianOf(dratios)
		rep.Rows = append(rep.Rows, out)
	}
}

// medianOf returns the median of xs, or nil for none.
func medianOf(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	m := benchkit.Median(xs)
	return &m
}

// writeText prints the table.
func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tusbench: %s; %s %s/%s; median of %d rounds (server order rotating), ratios to the baseline (raw on disk, sdk on S3) within each round; MB = 10^6 bytes\n",
		rep.Machine, rep.GoVersion, rep.GOOS, rep.GOARCH, rep.Rounds)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tserver\tmedian\tunit\tvs base\tdurable\tvs base\tp50 ms\tp99 ms\tCPU s\tS3 calls/PATCH\tpeak RSS MiB\t")
	last := ""
	for _, r := range rep.Rows {
		name := r.Workload
		if name == last {
			name = ""
		}
		last = r.Workload
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, r.Server, r.Median, r.Unit,
			benchkit.Optional(r.Ratio, "%.2f"), benchkit.Optional(r.Durable, "%.1f"), benchkit.Optional(r.DurableRatio, "%.2f"),
			benchkit.Optional(r.P50ms, "%.2f"), benchkit.Optional(r.P99ms, "%.2f"), benchkit.Optional(r.CPUs, "%.2f"),
			benchkit.Optional(r.CallsPerPatch, "%.2f"), benchkit.Optional(r.PeakRSSMiB, "%.0f"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	last = ""
	b.WriteString("\n")
	for _, r := range rep.Rows {
		if r.Workload != last {
			fmt.Fprintf(&b, "  %s: %s\n", r.Workload, r.Description)
			last = r.Workload
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// machine describes this machine: CPU model, cores and memory.
func machine() string {
	model, mem := "", ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if model == "" {
		model = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d cores%s", model, runtime.NumCPU(), mem)
}
