package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/internal/cutproxy"
	"github.com/tusgo/tus/internal/ietfclient"
	"github.com/tusgo/tus/internal/testhttp"
)

// testIETFThroughCuttingProxy uploads 8 MiB with the IETF draft client, in
// every interop version, through a proxy that cuts each connection after
// 256 KiB to 2 MiB: the client resumes with HEAD and PATCH until the upload
// is complete, and the store must then hold exactly the bytes sent. Careful
// creation (an empty creation, then appends of 1 MiB) runs too where the
// store can take an upload of unknown length or the draft has Upload-Length.
func testIETFThroughCuttingProxy(t *testing.T, nc NewHarness) {
	ietfThroughProxy(t, nc, data(8<<20+5, 31), 50, func(t *testing.T, host string, v int) *cutproxy.Proxy {
		p, err := cutproxy.New(host, 256<<10, 2<<20, uint64(v))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}, func(t *testing.T, p *cutproxy.Proxy, v int, chunk int64, res ietfclient.Result) {
		if p.Cuts() == 0 || res.Resumptions == 0 {
			t.Errorf("cuts %d, resumptions %d: the upload was never interrupted", p.Cuts(), res.Resumptions)
		}
		if v >= 5 && chunk == 0 && len(res.Progress) == 0 {
			t.Errorf("no progress in 104 responses")
		}
	})
}

// testIETFLostFinalResponse loses, through a proxy, the final response of
// the request that completed the upload (the server did its work), in every
// interop version, with optimistic and careful creation: the client must
// then retrieve the offset and find the upload complete, and the store must
// hold exactly the bytes sent.
func testIETFLostFinalResponse(t *testing.T, nc NewHarness) {
	ietfThroughProxy(t, nc, data(2<<20+5, 37), 10, func(t *testing.T, host string, v int) *cutproxy.Proxy {
		p, err := cutproxy.New(host, 0, 0, uint64(v))
		if err != nil {
			t.Fatal(err)
		}
		completed := "Upload-Complete: ?1"
		if v == 3 {
			completed = "Upload-Incomplete: ?0"
		}
		p.CutResponses(completed, 1)
		return p
	}, func(t *testing.T, p *cutproxy.Proxy, v int, chunk int64, res ietfclient.Result) {
		if p.ResponseCuts() != 1 || res.Resumptions == 0 {
			t.Errorf("response cuts %d, resumptions %d: the completing response was not lost", p.ResponseCuts(), res.Resumptions)
		}
	})
}

// ietfThroughProxy uploads want with the IETF draft client through the
// proxy newProxy makes, in every interop version, with optimistic creation
// and careful creation in 1 MiB appends (where the store can take an upload
// of unknown length or the draft has Upload-Length); check looks at the
// result, then the store must hold exactly the bytes sent.
func ietfThroughProxy(t *testing.T, nc NewHarness, want []byte, maxFailures int,
	newProxy func(t *testing.T, host string, v int) *cutproxy.Proxy,
	check func(t *testing.T, p *cutproxy.Proxy, v int, chunk int64, res ietfclient.Result)) {
	for v := tus.IETFMinInteropVersion; v <= tus.IETFMaxInteropVersion; v++ {
		for _, chunk := range []int64{0, 1 << 20} {
			t.Run(fmt.Sprintf("v%d/chunk%d", v, chunk), func(t *testing.T) {
				c, composer := serve(t, nc, func(cfg *tus.Config) {
					cfg.ProgressInterval = time.Nanosecond // progress 104s on every read
				})
				if chunk > 0 && v < 6 && !composer.UsesLengthDeferrer() {
					t.Skip("careful creation before Upload-Length needs a length deferrer")
				}
				host := strings.TrimPrefix(strings.TrimSuffix(c.base, "/files/"), "http://")
				p := newProxy(t, host, v)
				defer p.Close()
				// The creation waits for 100 Continue, which the server sends
				// after the 104 with the upload's URL: a cut then never comes
				// before the client can resume.
				client := &ietfclient.Client{
					Version: v, ChunkSize: chunk, ExpectContinue: true, MaxFailures: maxFailures,
					HTTP: &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}, Timeout: 2 * time.Minute},
				}
				res, err := client.Upload(context.Background(), "http://"+p.Addr()+"/files/", bytes.NewReader(want), int64(len(want)))
				if err != nil {
					t.Fatal(err)
				}
				check(t, p, v, chunk, res)
				url := strings.Replace(res.URL, p.Addr(), host, 1)
				if got := c.offset(url); got != int64(len(want)) {
					t.Fatalf("offset %d, want %d", got, len(want))
				}
				if composer.UsesContentServer() {
					if got := c.download(url); !bytes.Equal(got, want) {
						t.Fatalf("the store holds %d bytes that differ from the %d sent", len(got), len(want))
					}
				}
			})
		}
	}
}

// testIETFBodyPastLength appends, in interop version 8 and without
// Content-Length, more content than the upload's length: the bytes up to
// the length are kept, the answer is inconsistent-upload-length with the
// final offset, and no progress 104 announced more than that. It runs with
// progress 104s on every read and with none.
func testIETFBodyPastLength(t *testing.T, nc NewHarness) {
	for _, interval := range []time.Duration{time.Nanosecond, time.Hour} {
		t.Run(interval.String(), func(t *testing.T) { ietfBodyPastLength(t, nc, interval) })
	}
}

func ietfBodyPastLength(t *testing.T, nc NewHarness, interval time.Duration) {
	c, composer := serve(t, nc, func(cfg *tus.Config) { cfg.ProgressInterval = interval })
	const length = 1<<20 + 3
	want := data(3<<20, 41)
	u := c.create(length)
	var mu sync.Mutex
	var progress []int64
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if n, err := strconv.ParseInt(h.Get("Upload-Offset"), 10, 64); code == 104 && err == nil {
			mu.Lock()
			progress = append(progress, n)
			mu.Unlock()
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPatch, u, io.MultiReader(bytes.NewReader(want)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Upload-Draft-Interop-Version": "8", "Upload-Complete": "?0",
		"Upload-Offset": "0", "Content-Type": "application/partial-upload"} {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "inconsistent-upload-length") {
		t.Fatalf("append past the length: %d %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Upload-Offset"); got != strconv.Itoa(length) {
		t.Errorf("Upload-Offset %q, want %d", got, length)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range progress {
		if n > length || i > 0 && n < progress[i-1] {
			t.Errorf("progress 104 offsets %v: past %d or going back", progress, length)
			break
		}
	}
	if got := c.offset(u); got != length {
		t.Fatalf("offset %d, want %d", got, length)
	}
	if composer.UsesContentServer() {
		if got := c.download(u); !bytes.Equal(got, want[:length]) {
			t.Fatalf("the store holds %d bytes that differ from the %d sent first", len(got), length)
		}
	}
}

// testIETFIncompleteAtLength creates an IETF upload with all its content
// and its length but Upload-Complete: ?0 (drafts -05 on): it stays
// incomplete, tus sees an open length, and the client's empty completing
// append finishes it, byte-exact.
func testIETFIncompleteAtLength(t *testing.T, nc NewHarness) {
	c, composer := serve(t, nc, nil)
	if !composer.UsesLengthDeferrer() {
		t.Skip(skipReason(composer, []capability{needLengthDeferrer}))
	}
	want := data(6<<20+7, 43)
	size := strconv.Itoa(len(want))
	ietf := []string{"Upload-Draft-Interop-Version", "8"}
	res, body := testhttp.Do(t, c.http, http.MethodPost, c.base, want, append(ietf, "Upload-Complete", "?0", "Upload-Length", size)...)
	if res.StatusCode != http.StatusCreated || res.Header.Get("Upload-Complete") != "?0" || res.Header.Get("Upload-Offset") != size {
		t.Fatalf("creation: %d, Upload-Complete %q, Upload-Offset %q: %q", res.StatusCode,
			res.Header.Get("Upload-Complete"), res.Header.Get("Upload-Offset"), body)
	}
	u := res.Header.Get("Location")
	res, _ = testhttp.Do(t, c.http, http.MethodHead, u, nil, ietf...)
	if res.Header.Get("Upload-Complete") != "?0" || res.Header.Get("Upload-Length") != size {
		t.Errorf("HEAD: Upload-Complete %q, Upload-Length %q; want ?0 and %s",
			res.Header.Get("Upload-Complete"), res.Header.Get("Upload-Length"), size)
	}
	res, _ = c.do(http.MethodHead, u, nil)
	if res.Header.Get("Upload-Defer-Length") != "1" || res.Header.Get("Upload-Offset") != size {
		t.Errorf("tus HEAD: Upload-Defer-Length %q, Upload-Offset %q", res.Header.Get("Upload-Defer-Length"), res.Header.Get("Upload-Offset"))
	}
	res, body = testhttp.Do(t, c.http, http.MethodPatch, u, nil, append(ietf, "Upload-Complete", "?1", "Upload-Offset", size,
		"Content-Type", "application/partial-upload")...)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Upload-Complete") != "?1" {
		t.Fatalf("completion: %d, Upload-Complete %q: %q", res.StatusCode, res.Header.Get("Upload-Complete"), body)
	}
	if got := c.download(u); !bytes.Equal(got, want) {
		t.Fatalf("stored %d bytes that differ from the %d sent", len(got), len(want))
	}
}
