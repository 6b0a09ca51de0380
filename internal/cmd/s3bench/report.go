package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
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
}

// reportConfig records the settings of the run.
type reportConfig struct {
	Endpoint    string `json:"endpoint"`
	Bucket      string `json:"bucket"`
	Rounds      int    `json:"rounds"`
	Settle      bool   `json:"settle"`
	PartSize    int64  `json:"part_size"`
	Single      bool   `json:"single_process"`
	NoHashes    bool   `json:"disable_content_hashes"`
	Concurrency int    `json:"concurrency"`
}

// scenarioResult is the outcome of one scenario. Medians are taken over the
// rounds, each metric on its own.
type scenarioResult struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Size        int64       `json:"size"`
	PatchSize   int64       `json:"patch_size"`
	Patches     int         `json:"patches"`
	SDK         sideSummary `json:"sdk"`
	Tus         sideSummary `json:"tus"`
	// Ratio is the median MB/s of tus over that of the SDK.
	Ratio *float64 `json:"ratio_tus_vs_sdk,omitempty"`
	// ServerPeakRSSMiB is the tus server's VmHWM just before it stopped:
	// the peak over its warm-up and every round of the scenario.
	ServerPeakRSSMiB  *float64 `json:"server_peak_rss_mib,omitempty"`
	ServerStartRSSMiB *float64 `json:"server_start_rss_mib,omitempty"`
	// Problems are findings that did not stop the scenario.
	Problems []string `json:"problems,omitempty"`
	// Error is why the scenario stopped early.
	Error string `json:"error,omitempty"`
}

// sideSummary is one side's result in a scenario.
type sideSummary struct {
	Rounds     int       `json:"rounds"`
	MedianMBps float64   `json:"median_mb_per_s"`
	RoundsMBps []float64 `json:"rounds_mb_per_s"`
	ElapsedS   []float64 `json:"elapsed_s"`
	// S3 calls of one upload, by operation, and in all.
	CallsPerUpload      map[string]float64 `json:"s3_calls_per_upload,omitempty"`
	CallsPerUploadTotal float64            `json:"s3_calls_per_upload_total"`
	// tus only: S3 calls of the POST, and of an average PATCH.
	CallsPerPost       map[string]float64 `json:"s3_calls_per_post,omitempty"`
	CallsPerPatch      map[string]float64 `json:"s3_calls_per_patch,omitempty"`
	CallsPerPatchTotal float64            `json:"s3_calls_per_patch_total,omitempty"`
	PatchP50ms         *float64           `json:"patch_p50_ms,omitempty"`
	PatchP99ms         *float64           `json:"patch_p99_ms,omitempty"`
	FailedS3Calls      int64              `json:"failed_s3_calls,omitempty"`
}

func newReport(cfg config) *report {
	return &report{
		Platform: benchkit.CurrentPlatform(),
		Config: reportConfig{
			Endpoint:    cfg.conn.endpoint,
			Bucket:      cfg.conn.bucket,
			Rounds:      cfg.rounds,
			Settle:      cfg.settle,
			PartSize:    cfg.partSize,
			Single:      cfg.single,
			NoHashes:    cfg.noHashes,
			Concurrency: cfg.concurrency,
		},
	}
}

// summarize turns the runs of a scenario into its result.
func summarize(sc scenario, runs map[string][]sideRun, startMem, mem *benchkit.MemStat, problems []string) scenarioResult {
	res := scenarioResult{
		Name:        sc.name,
		Description: sc.desc,
		Size:        sc.size,
		PatchSize:   sc.patch,
		Patches:     sc.patches(),
		SDK:         summarizeSide(sc, runs[sideSDK], false),
		Tus:         summarizeSide(sc, runs[sideTus], true),
		Problems:    problems,
	}
	if res.SDK.Rounds > 0 && res.Tus.Rounds > 0 && res.SDK.MedianMBps > 0 {
		r := res.Tus.MedianMBps / res.SDK.MedianMBps
		res.Ratio = &r
	}
	if mem != nil {
		v := mem.HWMMiB()
		res.ServerPeakRSSMiB = &v
	}
	if startMem != nil {
		v := startMem.RSSMiB()
		res.ServerStartRSSMiB = &v
	}
	return res
}

// summarizeSide takes the medians of one side's runs.
func summarizeSide(sc scenario, rs []sideRun, tus bool) sideSummary {
	s := sideSummary{Rounds: len(rs)}
	if len(rs) == 0 {
		return s
	}
	var totals, patchTotals, p50s, p99s []float64
	var uploads, posts, patches []map[string]float64
	patchCount := float64(sc.patches())
	for _, r := range rs {
		s.RoundsMBps = append(s.RoundsMBps, benchkit.MBps(sc.size, r.elapsed))
		s.ElapsedS = append(s.ElapsedS, r.elapsed.Seconds())
		totals = append(totals, float64(sum(r.calls)))
		uploads = append(uploads, toFloat(r.calls, 1))
		if tus {
			posts = append(posts, toFloat(r.postCalls, 1))
			patches = append(patches, toFloat(r.patchCalls, patchCount))
			patchTotals = append(patchTotals, float64(sum(r.patchCalls))/patchCount)
			s.FailedS3Calls += r.s3Errors
			if len(r.patchLat) > 1 {
				p50, p99 := benchkit.Percentiles(r.patchLat)
				p50s, p99s = append(p50s, ms(p50)), append(p99s, ms(p99))
			}
		}
	}
	s.MedianMBps = benchkit.Median(s.RoundsMBps)
	s.CallsPerUpload, s.CallsPerUploadTotal = medianByOp(uploads), benchkit.Median(totals)
	if tus {
		s.CallsPerPost = medianByOp(posts)
		s.CallsPerPatch, s.CallsPerPatchTotal = medianByOp(patches), benchkit.Median(patchTotals)
		if len(p50s) > 0 {
			a, b := benchkit.Median(p50s), benchkit.Median(p99s)
			s.PatchP50ms, s.PatchP99ms = &a, &b
		}
	}
	return s
}

// toFloat divides every count by d.
func toFloat(m map[string]int64, d float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v) / d
	}
	return out
}

// medianByOp returns, for every operation seen in any round, the median
// over the rounds (a round without the operation counts 0).
func medianByOp(ms []map[string]float64) map[string]float64 {
	ops := map[string]bool{}
	for _, m := range ms {
		for op := range m {
			ops[op] = true
		}
	}
	out := make(map[string]float64, len(ops))
	for op := range ops {
		vals := make([]float64, len(ms))
		for i, m := range ms {
			vals[i] = m[op]
		}
		out[op] = benchkit.Median(vals)
	}
	return out
}

func (rep *report) writeJSON(w io.Writer) error { return benchkit.WriteJSON(w, rep) }

// opOrder is the order operations are listed in: as an upload makes them.
var opOrder = []string{
	"CreateMultipartUpload", "PutObject", "HeadObject", "GetObject", "ListObjectsV2",
	"ListParts", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
	"DeleteObjects", "AbortMultipartUpload",
}

// sortedOps returns the operations of the maps in opOrder, unknown ones
// last in name order.
func sortedOps(ms ...map[string]float64) []string {
	seen := map[string]bool{}
	for _, m := range ms {
		for op := range m {
			seen[op] = true
		}
	}
	var out []string
	for _, op := range opOrder {
		if seen[op] {
			out = append(out, op)
			delete(seen, op)
		}
	}
	return append(out, slices.Sorted(maps.Keys(seen))...)
}

// writeText prints a summary table and one table per scenario.
func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	c := rep.Config
	fmt.Fprintf(&b, "s3bench: %s %s/%s, %d CPUs; S3 %s, bucket %s; part size %s, %d concurrent part uploads on both sides; store SingleProcess %v, DisableContentHashes %v;\n",
		rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPUs, c.Endpoint, c.Bucket, benchkit.FormatBytes(c.PartSize), c.Concurrency, c.Single, c.NoHashes)
	settle := "sync(2) before each upload"
	if !c.Settle {
		settle = "no sync(2) between uploads"
	}
	fmt.Fprintf(&b, "median of %d rounds (SDK first in odd rounds, tus first in even ones), %s; MB = 10^6 bytes, MiB = 2^20\n", c.Rounds, settle)

	fmt.Fprintf(&b, "\nsummary\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tSDK MB/s\ttus MB/s\ttus/SDK\tserver peak RSS MiB\tPATCHes\tS3 calls/PATCH\tS3 calls/upload: SDK\ttus\t")
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", sc.Name,
			orDash(sc.SDK.Rounds > 0, "%.1f", sc.SDK.MedianMBps),
			orDash(sc.Tus.Rounds > 0, "%.1f", sc.Tus.MedianMBps),
			benchkit.Optional(sc.Ratio, "%.2f"), benchkit.Optional(sc.ServerPeakRSSMiB, "%.1f"), sc.Patches,
			orDash(sc.Tus.Rounds > 0, "%.2f", sc.Tus.CallsPerPatchTotal),
			orDash(sc.SDK.Rounds > 0, "%.0f", sc.SDK.CallsPerUploadTotal),
			orDash(sc.Tus.Rounds > 0, "%.0f", sc.Tus.CallsPerUploadTotal))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	for _, sc := range rep.Scenarios {
		fmt.Fprintf(&b, "\n%s: %s\n", sc.Name, sc.Description)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		// Labels padded by hand: the tabwriter aligns every cell right.
		row := func(name, sdk, tus string) { fmt.Fprintf(tw, "  %-28s\t%s\t%s\t\n", name, sdk, tus) }
		s, t := sc.SDK, sc.Tus
		row("", "SDK", "tus")
		row("MB/s, median", orDash(s.Rounds > 0, "%.1f", s.MedianMBps), orDash(t.Rounds > 0, "%.1f", t.MedianMBps))
		row("tus/SDK", "", benchkit.Optional(sc.Ratio, "%.2f"))
		row("MB/s, each round", joinFloats(s.RoundsMBps, "%.0f"), joinFloats(t.RoundsMBps, "%.0f"))
		row("seconds, each round", joinFloats(s.ElapsedS, "%.2f"), joinFloats(t.ElapsedS, "%.2f"))
		row("server peak RSS MiB (VmHWM)", "", benchkit.Optional(sc.ServerPeakRSSMiB, "%.1f"))
		row("server RSS at start MiB", "", benchkit.Optional(sc.ServerStartRSSMiB, "%.1f"))
		row("PATCHes", "", fmt.Sprint(sc.Patches))
		if t.PatchP50ms != nil {
			row("PATCH latency p50 / p99 ms", "", fmt.Sprintf("%.1f / %.1f", *t.PatchP50ms, *t.PatchP99ms))
		}
		if t.Rounds > 0 {
			row("S3 calls per PATCH", "", fmt.Sprintf("%.3f", t.CallsPerPatchTotal))
			for _, op := range sortedOps(t.CallsPerPatch) {
				row("  "+op, "", fmt.Sprintf("%.3f", t.CallsPerPatch[op]))
			}
			row("S3 calls of the POST", "", fmt.Sprintf("%.0f", sum(t.CallsPerPost)))
			for _, op := range sortedOps(t.CallsPerPost) {
				row("  "+op, "", fmt.Sprintf("%.0f", t.CallsPerPost[op]))
			}
		}
		row("S3 calls per upload", orDash(s.Rounds > 0, "%.0f", s.CallsPerUploadTotal), orDash(t.Rounds > 0, "%.0f", t.CallsPerUploadTotal))
		for _, op := range sortedOps(s.CallsPerUpload, t.CallsPerUpload) {
			row("  "+op, count(s.CallsPerUpload, op), count(t.CallsPerUpload, op))
		}
		if t.FailedS3Calls > 0 {
			row("failed S3 calls (all rounds)", "", fmt.Sprint(t.FailedS3Calls))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range sc.Problems {
			fmt.Fprintf(&b, "  PROBLEM: %s\n", p)
		}
		if sc.Error != "" {
			fmt.Fprintf(&b, "  FAILED: %s\n", sc.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// count formats m[op] for a per-upload row, or "-" if m has no entry.
func count(m map[string]float64, op string) string {
	v, ok := m[op]
	if !ok {
		return "-"
	}
	return trimFloat(v)
}

// trimFloat prints v as an integer when it is one.
func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// joinFloats formats every value and joins them with spaces.
func joinFloats(vs []float64, format string) string {
	if len(vs) == 0 {
		return "-"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(s, " ")
}

// orDash formats v if ok, else "-".
func orDash(ok bool, format string, v float64) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
