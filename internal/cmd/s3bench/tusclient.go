package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tusgo/tus/internal/benchkit"
	"github.com/tusgo/tus/s3store"
)

// tusClient speaks tus 1.0.0 to the child over keep-alive connections and
// checks the status and Upload-Offset of every answer.
type tusClient struct {
	hc     *http.Client
	tr     *http.Transport
	base   string // collection URL
	origin string
	gen    *benchkit.Generator
}

func newTusClient(s *server, gen *benchkit.Generator) *tusClient {
	tr := benchkit.NewTransport(4, 5*time.Minute)
	return &tusClient{hc: &http.Client{Transport: tr}, tr: tr, base: s.base, origin: s.origin, gen: gen}
}

// close drops the idle connections.
func (c *tusClient) close() { c.tr.CloseIdleConnections() }

// create makes an upload of length bytes and returns its URL.
func (c *tusClient) create(ctx context.Context, length int64) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base, http.NoBody)
	if err != nil {
		return "", err
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	res, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST %s (Upload-Length %d): %w", c.base, length, err)
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusCreated {
		return "", answerError(res, http.StatusCreated, "")
	}
	loc := res.Header.Get("Location")
	u, err := res.Request.URL.Parse(loc)
	if loc == "" || err != nil {
		return "", answerError(res, http.StatusCreated, fmt.Sprintf("bad Location %q", loc))
	}
	if got := res.Header.Get("Upload-Offset"); got != "" && got != "0" {
		return "", answerError(res, http.StatusCreated, fmt.Sprintf("Upload-Offset %q, want 0", got))
	}
	return u.String(), nil
}

// patch sends the n bytes of the upload at offset as one PATCH, streamed
// from the generator.
func (c *tusClient) patch(ctx context.Context, url string, offset, n int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, url, c.gen.Reader(offset, n))
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", benchkit.OffsetOctetStream)
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("PATCH %s (Upload-Offset %d, Content-Length %d): %w%s", url, offset, n, err, c.serverOffset(url))
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%w%s", answerError(res, http.StatusNoContent, ""), c.serverOffset(url))
	}
	if got, want := res.Header.Get("Upload-Offset"), strconv.FormatInt(offset+n, 10); got != want {
		return fmt.Errorf("%w%s", answerError(res, http.StatusNoContent, fmt.Sprintf("Upload-Offset %q, want %s", got, want)), c.serverOffset(url))
	}
	return nil
}

// serverOffset asks the server for the offset of the upload after a failed
// PATCH and describes it, for the error message.
func (c *tusClient) serverOffset(url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Sprintf("; then HEAD failed: %v", err)
	}
	defer benchkit.Drain(res)
	return fmt.Sprintf("; then HEAD answered %d with Upload-Offset %q, Upload-Length %q",
		res.StatusCode, res.Header.Get("Upload-Offset"), res.Header.Get("Upload-Length"))
}

// calls returns the store's S3 call counts from the child.
func (c *tusClient) calls(ctx context.Context) (map[string]s3store.OpStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.origin+callsPath, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer benchkit.Drain(res)
	if res.StatusCode != http.StatusOK {
		return nil, answerError(res, http.StatusOK, "")
	}
	var m map[string]s3store.OpStats
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("GET %s: %w", callsPath, err)
	}
	return m, nil
}

// answerError describes an unexpected answer: the request's tus headers,
// the status, the tus headers of the answer and the start of its body.
func answerError(res *http.Response, want int, problem string) error {
	req := res.Request
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", req.Method, req.URL)
	if h := tusHeaders(req.Header); h != "" {
		fmt.Fprintf(&b, " [%s", h)
		if req.ContentLength > 0 {
			fmt.Fprintf(&b, ", Content-Length: %d", req.ContentLength)
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, ": answered %s", res.Status)
	if res.StatusCode != want {
		fmt.Fprintf(&b, " (want %d)", want)
	}
	if problem != "" {
		fmt.Fprintf(&b, ", %s", problem)
	}
	if h := tusHeaders(res.Header); h != "" {
		fmt.Fprintf(&b, " [%s]", h)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if s := strings.TrimSpace(string(body)); s != "" {
		fmt.Fprintf(&b, ": %q", s)
	}
	return fmt.Errorf("%s", b.String())
}

// tusHeaders lists the headers of h that matter here, sorted.
func tusHeaders(h http.Header) string {
	var parts []string
	for k, vs := range h {
		switch k {
		case "Upload-Offset", "Upload-Length", "Tus-Resumable", "Location", "Content-Type", "Upload-Expires":
			parts = append(parts, k+": "+strings.Join(vs, ","))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
