package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusgo/tus/internal/benchkit"
	"github.com/tusgo/tus/internal/s3test"
)

// TestMain runs the program instead of the tests when the test binary is
// re-executed as the raw server.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs every workload once with tiny sizes on raw and ours (and
// the SDK and ours on S3 when TUS_S3_SERVERS names a minio= server), so
// that the benchmark keeps working: every upload's bytes are checked by
// the program, which fails on a mismatch; here the table's rows are.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/tusd")
	}
	_, s3 := endpointFromEnv(os.Getenv(envServers), "minio")
	var stdout, stderr bytes.Buffer
	err := run([]string{
		"-json", "-rounds", "1", "-tmpdir", t.TempDir(), "-idle-wait", "10ms",
		"-small-n", "20", "-chunked-size", "1MiB", "-chunk-size", "256KiB", "-large-size", "2MiB",
		"-many-n", "4", "-many-size", "1MiB", "-scale-n", "200", "-scale-ops", "20",
		"-s3-large-size", "6MiB", "-s3-chunked-size", "3MiB", "-s3-chunk-size", "1MiB", "-s3-many-n", "3", "-s3-many-size", "1MiB",
	}, &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the report: %v\n%s", err, stdout.String())
	}
	want := map[string][]string{}
	for _, w := range diskWorkloads {
		want[w] = []string{kindRaw, kindOurs}
	}
	for _, state := range []string{"empty", "200"} {
		want["scale upload, "+state] = []string{kindRaw + " " + state, kindOurs + " " + state}
		want["scale HEAD, "+state] = []string{kindRaw + " " + state, kindOurs + " " + state}
	}
	if s3 {
		for _, w := range s3Workloads {
			want[w] = []string{kindSDK, kindOurs}
		}
	}
	got := map[string][]string{}
	for _, r := range rep.Rows {
		got[r.Workload] = append(got[r.Workload], r.Server)
		if r.Median <= 0 || len(r.Rounds) != 1 || r.Ratio == nil || *r.Ratio <= 0 {
			t.Errorf("%s, %s: median %v, rounds %v, ratio %v", r.Workload, r.Server, r.Median, r.Rounds, r.Ratio)
		}
		base := r.Server == kindRaw || r.Server == kindSDK || strings.HasPrefix(r.Server, kindRaw+" ")
		if base && *r.Ratio != 1 {
			t.Errorf("%s: the baseline's ratio is %v", r.Workload, *r.Ratio)
		}
		disk := slices.Contains(diskWorkloads, r.Workload)
		if disk && (r.Durable == nil || r.PeakRSSMiB == nil || *r.PeakRSSMiB <= 0) {
			t.Errorf("%s, %s: durable %v, peak RSS %v", r.Workload, r.Server, r.Durable, r.PeakRSSMiB)
		}
		if r.Server != kindSDK && r.CPUs == nil {
			t.Errorf("%s, %s: no CPU time", r.Workload, r.Server)
		}
		if strings.HasPrefix(r.Workload, "s3-") && r.Server == kindOurs {
			// The proxy's count agrees with ours' own metrics.
			if r.CallsPerPatch == nil || *r.CallsPerPatch < 1 || r.OwnCallsPerPatch == nil || *r.OwnCallsPerPatch != *r.CallsPerPatch {
				t.Errorf("%s: ours' S3 calls per PATCH %v, by its tusd_s3_calls_total %v", r.Workload, r.CallsPerPatch, r.OwnCallsPerPatch)
			}
		}
	}
	for w, servers := range want {
		if !slices.Equal(got[w], servers) {
			t.Errorf("%s: rows of %v, want %v", w, got[w], servers)
		}
	}
	if len(got) != len(want) {
		t.Errorf("workloads %v, want those of %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.HasPrefix(n, "RSS 10ms after the last disk workload: raw ") && strings.Contains(n, "ours ")
	}) {
		t.Errorf("no note of the idle RSS after the disk workloads: %q", rep.Notes)
	}
	var text strings.Builder
	if err := rep.writeText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"workload", "vs base", "durable", "peak RSS MiB", "scale HEAD, 200"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("the table lacks %q:\n%s", s, text.String())
		}
	}
}

// TestVerifyDisk checks that a stored byte that differs, or a short file,
// is caught.
func TestVerifyDisk(t *testing.T) {
	gen := benchkit.NewGenerator(patternLen, "tusgo/tusbench")
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	gen.Fill(data, 0)
	ups := []upload{{id: "a", size: int64(len(data))}}
	write := func(b []byte) {
		if err := os.WriteFile(filepath.Join(dir, "a"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(data)
	if err := verifyDisk(t.Context(), dir, ups, gen); err != nil {
		t.Fatalf("the right bytes: %v", err)
	}
	data[2<<20+5] ^= 1
	write(data)
	if err := verifyDisk(t.Context(), dir, ups, gen); err == nil || !strings.Contains(err.Error(), "first difference at byte 2097157") {
		t.Errorf("a flipped bit: %v", err)
	}
	data[2<<20+5] ^= 1
	write(data[:len(data)-1])
	if err := verifyDisk(t.Context(), dir, ups, gen); err == nil || !strings.Contains(err.Error(), "stored 3145727 bytes") {
		t.Errorf("a short file: %v", err)
	}
	if err := verifyDisk(t.Context(), dir, []upload{{id: "missing", size: 1}}, gen); err == nil {
		t.Error("a missing file: no error")
	}
}

func TestS3Operation(t *testing.T) {
	for _, c := range []struct {
		method, path, query, want string
	}{
		{"POST", "/b/k", "uploads", "CreateMultipartUpload"},
		{"PUT", "/b/k", "partNumber=1&uploadId=x", "UploadPart"},
		{"POST", "/b/k", "uploadId=x", "CompleteMultipartUpload"},
		{"PUT", "/b/k.info", "", "PutObject"},
		{"GET", "/b/k", "uploadId=x", "ListParts"},
		{"GET", "/b/k", "", "GetObject"},
		{"HEAD", "/b/k", "", "HeadObject"},
		{"DELETE", "/b/k", "uploadId=x", "AbortMultipartUpload"},
		{"DELETE", "/b/k", "", "DeleteObject"},
		{"POST", "/b", "delete", "DeleteObjects"},
		{"GET", "/b", "list-type=2&prefix=p", "ListObjects"},
		{"GET", "/b/", "uploads", "ListMultipartUploads"},
	} {
		p := newCountingProxyForTest()
		r := httptestRequest(c.method, c.path+"?"+c.query)
		p.count(r)
		if got := p.snapshot("b"); got[c.want] != 1 || len(got) != 1 {
			t.Errorf("%s %s?%s: counted %v, want %s", c.method, c.path, c.query, got, c.want)
		}
	}
}

func TestRotate(t *testing.T) {
	items := []string{"a", "b", "c"}
	for round, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}} {
		if got := rotate(items, round); !slices.Equal(got, want) {
			t.Errorf("round %d: %v, want %v", round, got, want)
		}
	}
}

// newCountingProxyForTest returns a proxy that only counts.
func newCountingProxyForTest() *countingProxy {
	return &countingProxy{counts: map[string]map[string]int64{}}
}

// httptestRequest returns a request for target (path and query).
func httptestRequest(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}

// TestVerifyObject checks that a wrong object is caught and its first
// differing byte named, against the MinIO of internal/s3test.
func TestVerifyObject(t *testing.T) {
	var server s3test.Server
	for _, s := range s3test.Servers(t) {
		if s.Name == "minio" {
			server = s
		}
	}
	if server.Name == "" {
		t.Skipf("no minio= server in %s", s3test.EnvServers)
	}
	c := server.Client(t)
	bucket := server.NewBucket(t, c)
	gen := benchkit.NewGenerator(patternLen, "tusgo/tusbench")
	const size = 3 << 20
	body := make([]byte, size)
	gen.Fill(body, 0)
	put := func(b []byte) {
		t.Helper()
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(b)})
		if err != nil {
			t.Fatal(err)
		}
	}
	lay := layout{partSize: 1 << 20, patchSize: 512 << 10}
	put(body)
	if err := verifyObject(t.Context(), c, bucket, "k", gen, size, lay); err != nil {
		t.Fatalf("the right bytes: %v", err)
	}
	body[2<<20+5] ^= 1
	put(body)
	err := verifyObject(t.Context(), c, bucket, "k", gen, size, lay)
	if err == nil || !strings.Contains(err.Error(), "first difference at byte 2097157 (part 3 of 1MiB, PATCH 5 of 512KiB)") {
		t.Errorf("a flipped bit: %v", err)
	}
	put(body[:size-1])
	if err := verifyObject(t.Context(), c, bucket, "k", gen, size, lay); err == nil || !strings.Contains(err.Error(), "stored 3145727 bytes") {
		t.Errorf("a short object: %v", err)
	}
}
