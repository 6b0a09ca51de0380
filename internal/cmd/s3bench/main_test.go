package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tusgo/tus/internal/s3test"
)

// TestMain runs the program instead of the tests when the test binary is
// re-executed as the benchmark's tus server.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// minio returns the MinIO server of internal/s3test, or skips the test.
func minio(t *testing.T) s3test.Server {
	for _, s := range s3test.Servers(t) {
		if s.Name == serverName {
			return s
		}
	}
	t.Skipf("no %s= server in %s", serverName, s3test.EnvServers)
	panic("unreachable")
}

// TestBenchTiny runs both scenarios on tiny sizes, one round, against the
// MinIO server of internal/s3test, so that the benchmark keeps working.
func TestBenchTiny(t *testing.T) {
	server := minio(t)
	bucket := server.NewBucket(t, server.Client(t))

	var stdout, stderr bytes.Buffer
	err := run([]string{
		"-endpoint", server.Endpoint,
		"-access-key", server.AccessKey,
		"-secret-key", server.SecretKey,
		"-bucket", bucket,
		"-rounds", "1",
		"-size-large", "12MiB",
		"-size-patch", "3MiB",
		"-patch-size", "1MiB",
		"-part-size", "5MiB",
		"-concurrency", "2",
		"-json",
	}, &stdout, &stderr)
	t.Logf("progress:\n%s", stderr.String())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the JSON report: %v\n%s", err, stdout.String())
	}
	if len(rep.Scenarios) != 2 {
		t.Fatalf("got %d scenarios, want 2", len(rep.Scenarios))
	}
	for _, sc := range rep.Scenarios {
		if sc.Error != "" || len(sc.Problems) > 0 {
			t.Errorf("%s: error %q, problems %q", sc.Name, sc.Error, sc.Problems)
		}
		if sc.SDK.Rounds != 1 || sc.Tus.Rounds != 1 || sc.Ratio == nil || *sc.Ratio <= 0 {
			t.Errorf("%s: rounds SDK %d, tus %d, ratio %v", sc.Name, sc.SDK.Rounds, sc.Tus.Rounds, sc.Ratio)
		}
		if sc.ServerPeakRSSMiB == nil || *sc.ServerPeakRSSMiB <= 0 {
			t.Errorf("%s: no server peak RSS", sc.Name)
		}
		if sc.Tus.CallsPerPatchTotal <= 0 || sc.Tus.CallsPerPost["CreateMultipartUpload"] != 1 {
			t.Errorf("%s: tus calls per PATCH %v, of the POST %v", sc.Name, sc.Tus.CallsPerPatch, sc.Tus.CallsPerPost)
		}
	}
	large, patch := rep.Scenarios[0], rep.Scenarios[1]
	// 12 MiB in 5 MiB parts: 3 parts on both sides.
	if got := large.SDK.CallsPerUpload["UploadPart"]; got != 3 {
		t.Errorf("large: SDK UploadPart calls %v, want 3", got)
	}
	if got := large.Tus.CallsPerUpload["UploadPart"]; got != 3 {
		t.Errorf("large: tus UploadPart calls %v, want 3", got)
	}
	if large.Patches != 1 || patch.Patches != 3 {
		t.Errorf("PATCHes: large %d, patch1m %d; want 1 and 3", large.Patches, patch.Patches)
	}
	// 3 MiB is less than a part: the SDK makes one PutObject.
	if got := patch.SDK.CallsPerUpload["PutObject"]; got != 1 {
		t.Errorf("patch1m: SDK PutObject calls %v, want 1", got)
	}

	var text strings.Builder
	if err := rep.writeText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"summary", "large:", "patch1m:", "S3 calls per PATCH"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestVerifyReportsDifference checks that a wrong object is caught and its
// first differing byte named.
func TestVerifyReportsDifference(t *testing.T) {
	server := minio(t)
	c := server.Client(t)
	bucket := server.NewBucket(t, c)
	gen := newGenerator()
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
	err = verifyObject(t.Context(), c, bucket, "k", gen, size, lay)
	if err == nil || !strings.Contains(err.Error(), "stored 3145727 bytes") {
		t.Errorf("a short object: %v", err)
	}
}
