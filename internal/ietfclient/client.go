// Package ietfclient is a test client for the IETF resumable upload
// protocol (draft-ietf-httpbis-resumable-upload), written from the draft
// texts alone for interop versions 3 to 8, independent of the server in
// this module. It creates an upload, learns its URL from the 104 (Upload
// Resumption Supported) informational response or the final response, and
// after an interruption retrieves the offset with HEAD and appends the rest
// with PATCH until the upload is complete.
package ietfclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client uploads with one interop version of the draft.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Version is the interop version, 3 to 8.
	Version int
	// ChunkSize, if positive, makes the client create the upload empty
	// ("careful upload creation") and append at most ChunkSize bytes per
	// request. Otherwise the creation carries all content ("optimistic
	// upload creation").
	ChunkSize int64
	// MaxFailures is how many failed requests in a row end the upload (20
	// if zero); failed requests that stored bytes (the next offset
	// retrieval shows progress) start the count again.
	MaxFailures int
	// ExpectContinue makes a creation with content wait for the server
	// before sending it (Expect: 100-continue; give the HTTP transport an
	// ExpectContinueTimeout). A server that announces the upload in a 104
	// before it reads the content lets the client learn the URL before any
	// content is sent, as the drafts suggest a client may wait for it.
	ExpectContinue bool
	// RetryCreation lets the client repeat a creation that failed before
	// it learnt the upload's URL, as the draft allows where the application
	// does; otherwise such a failure ends the upload.
	RetryCreation bool
}

// Result describes a finished upload.
type Result struct {
	// URL is the upload resource.
	URL string
	// Status is the status of the response that completed the upload (or
	// of the offset retrieval that found it complete).
	Status int
	// Resumptions counts offset retrievals after interruptions.
	Resumptions int
	// Creations counts creation requests sent.
	Creations int
	// Progress holds the offsets reported in 104 responses, in order.
	Progress []int64
}

// ErrRejected is returned when the server refuses a request with a client
// error: the draft says not to retry then.
var ErrRejected = errors.New("ietfclient: request rejected")

// ErrProtocol is returned, at once, when the server breaks a rule of the
// draft the client checks: from version 7, a creation or append response
// without Upload-Complete; a complete upload whose offset is not the size
// uploaded; an offset (in a 104 or a response) below one reported before,
// or a response offset below a progress offset already reported; a final
// response whose Location differs from the 104's; an offset retrieval
// without Upload-Offset.
var ErrProtocol = errors.New("ietfclient: the server broke the protocol")

// state is what a response says about the upload.
type state struct {
	status   int
	offset   int64 // -1 if absent
	complete bool
	header   http.Header
}

// Upload uploads size bytes of data to target, resuming after failures,
// and returns once the server reports the upload complete.
func (c *Client) Upload(ctx context.Context, target string, data io.ReaderAt, size int64) (Result, error) {
	if c.Version < 3 || c.Version > 8 {
		return Result{}, fmt.Errorf("ietfclient: interop version %d is not one of 3 to 8", c.Version)
	}
	u := &upload{c: c, target: target, data: data, size: size}
	return u.run(ctx)
}

// upload is one Upload call.
type upload struct {
	c      *Client
	target string
	data   io.ReaderAt
	size   int64

	mu        sync.Mutex // guards the fields below, written from 1xx callbacks too
	url       string
	announced string // the Location of the creation's 104, resolved
	res       Result
	high      int64 // the highest offset the server reported
	progress  int64 // the highest offset a 104 reported
	violation error // the first ErrProtocol found
	failures  int   // failed requests since the last that made progress
	stored    int64 // the offset at which failures was last reset
}

// violate records a broken rule (the first one wins); the caller holds mu.
func (u *upload) violate(format string, args ...any) {
	if u.violation == nil {
		u.violation = fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
	}
}

// sawOffset checks an offset the server reported, in a 104 (progress) or a
// response: offsets never go back, and a response never reports less than
// a 104 did. The caller holds mu.
func (u *upload) sawOffset(off int64, progress bool) {
	switch {
	case off < u.high:
		u.violate("offset %d after the server reported %d", off, u.high)
	case off > u.size:
		u.violate("offset %d past the %d bytes to upload", off, u.size)
	}
	if !progress && off < u.progress {
		u.violate("response offset %d below the %d a 104 reported", off, u.progress)
	}
	u.high = max(u.high, off)
	if progress {
		u.progress = max(u.progress, off)
	}
}

func (u *upload) run(ctx context.Context) (Result, error) {
	for u.uploadURL() == "" {
		st, err := u.create(ctx)
		if errors.Is(err, ErrProtocol) {
			return u.result(), err
		}
		switch {
		case err == nil && st.status/100 == 2 && st.complete:
			return u.done(st.status), nil
		case err == nil && st.status/100 == 2:
			// Created; the rest is appended below.
		case err == nil && st.status/100 == 4:
			return u.result(), fmt.Errorf("%w: creation answered %d", ErrRejected, st.status)
		case u.uploadURL() == "" && !u.c.RetryCreation:
			return u.result(), fmt.Errorf("ietfclient: creation failed before the upload URL was known: %v (status %d)", err, st.status)
		}
		if u.uploadURL() == "" {
			if ferr := u.fail(ctx, err); ferr != nil {
				return u.result(), ferr
			}
		} else if err != nil || st.status/100 != 2 {
			// Interrupted after the 104: the offset is retrieved below.
			u.mu.Lock()
			u.res.Resumptions++
			u.mu.Unlock()
		}
	}
	var offset int64 = -1 // unknown: retrieve it first
	for {
		if offset < 0 {
			st, err := u.head(ctx)
			if errors.Is(err, ErrProtocol) {
				return u.result(), err
			}
			switch {
			case err == nil && st.status/100 == 2 && st.complete:
				return u.done(st.status), nil
			case err == nil && st.status/100 == 2 && st.offset >= 0:
				if st.offset > u.size {
					return u.result(), fmt.Errorf("ietfclient: server offset %d is past the %d bytes to upload", st.offset, u.size)
				}
				if st.offset > u.stored {
					// The failed requests stored bytes: they made progress
					// (as tus-js-client, count only failures in a row that
					// did not).
					u.stored, u.failures = st.offset, 0
				}
				offset = st.offset
			case err == nil && st.status/100 == 4:
				return u.result(), fmt.Errorf("%w: offset retrieval answered %d", ErrRejected, st.status)
			default:
				if ferr := u.fail(ctx, err); ferr != nil {
					return u.result(), ferr
				}
				continue
			}
		}
		end := u.size
		if u.c.ChunkSize > 0 && offset+u.c.ChunkSize < end {
			end = offset + u.c.ChunkSize
		}
		st, err := u.append(ctx, offset, end)
		if errors.Is(err, ErrProtocol) {
			return u.result(), err
		}
		switch {
		case err == nil && st.status/100 == 2 && st.complete:
			return u.done(st.status), nil
		case err == nil && st.status/100 == 2 && st.offset == end:
			offset = end
			u.failures = 0
		case err == nil && st.status/100 == 2:
			offset = -1 // not what was sent: ask
		case err == nil && st.status == http.StatusConflict:
			offset = -1
			if ferr := u.fail(ctx, fmt.Errorf("offset conflict")); ferr != nil {
				return u.result(), ferr
			}
		case err == nil && st.status/100 == 4:
			return u.result(), fmt.Errorf("%w: append answered %d", ErrRejected, st.status)
		default:
			offset = -1
			if ferr := u.fail(ctx, err); ferr != nil {
				return u.result(), ferr
			}
		}
	}
}

// fail counts a failed request and waits a little before the next one.
func (u *upload) fail(ctx context.Context, err error) error {
	u.failures++
	max := u.c.MaxFailures
	if max == 0 {
		max = 20
	}
	if u.failures >= max {
		return fmt.Errorf("ietfclient: %d failed requests in a row, the last: %v", u.failures, err)
	}
	u.mu.Lock()
	u.res.Resumptions++
	u.mu.Unlock()
	t := time.NewTimer(time.Duration(u.failures) * 5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (u *upload) uploadURL() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.url
}

func (u *upload) result() Result {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.res
	r.URL = u.url
	r.Progress = append([]int64(nil), u.res.Progress...)
	return r
}

func (u *upload) done(status int) Result {
	r := u.result()
	r.Status = status
	return r
}

// completeHeader returns the header and value telling the server whether
// this request completes the upload: Upload-Incomplete (inverted) in
// version 3, Upload-Complete from version 4.
func (u *upload) completeHeader(complete bool) (string, string) {
	if u.c.Version == 3 {
		return "Upload-Incomplete", sfBool(!complete)
	}
	return "Upload-Complete", sfBool(complete)
}

// create sends the creation request: all content with completion, or none
// in careful mode.
func (u *upload) create(ctx context.Context) (state, error) {
	u.mu.Lock()
	u.res.Creations++
	u.mu.Unlock()
	end := u.size
	if u.c.ChunkSize > 0 {
		end = 0
	}
	h := http.Header{}
	k, v := u.completeHeader(end == u.size)
	h.Set(k, v)
	if u.c.Version >= 6 {
		h.Set("Upload-Length", strconv.FormatInt(u.size, 10))
	}
	h.Set("Content-Type", "application/octet-stream")
	if u.c.ExpectContinue && end > 0 {
		h.Set("Expect", "100-continue")
	}
	st, err := u.send(ctx, http.MethodPost, u.target, h, 0, end, true)
	if err == nil && st.status/100 == 2 {
		if loc := st.header.Get("Location"); loc != "" && u.uploadURL() == "" {
			u.setURL(loc)
		}
	}
	return st, err
}

// head retrieves the offset and completeness.
func (u *upload) head(ctx context.Context) (state, error) {
	return u.send(ctx, http.MethodHead, u.uploadURL(), http.Header{}, 0, 0, false)
}

// append sends the bytes from offset to end, completing the upload if end
// is its end.
func (u *upload) append(ctx context.Context, offset, end int64) (state, error) {
	h := http.Header{}
	h.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	k, v := u.completeHeader(end == u.size)
	h.Set(k, v)
	if u.c.Version >= 6 {
		h.Set("Content-Type", "application/partial-upload")
	}
	return u.send(ctx, http.MethodPatch, u.uploadURL(), h, offset, end, false)
}

// send sends one request with the bytes from offset to end as content and
// reads the response's state. 104 responses of our interop version give the
// upload URL (on creation) and progress.
func (u *upload) send(ctx context.Context, method, target string, h http.Header, offset, end int64, creation bool) (state, error) {
	// ended is set, under mu, once Do has returned. The transport may still
	// hand over a 1xx it had read when the request failed (a write error
	// returns before the reading side stops): that one belongs to a request
	// given up on, and an offset in it, true when sent, may be below what a
	// later request reported.
	ended := false
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		if code != 104 || hdr.Get("Upload-Draft-Interop-Version") != strconv.Itoa(u.c.Version) {
			return nil // not for us: the draft says to ignore it
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		if ended {
			return nil
		}
		if loc := hdr.Get("Location"); loc != "" && creation {
			loc = u.resolve(loc)
			if u.url == "" {
				u.url = loc
			}
			if u.announced == "" {
				u.announced = loc
			}
		}
		if off, ok := sfInteger(hdr.Get("Upload-Offset")); ok {
			u.res.Progress = append(u.res.Progress, off)
			u.sawOffset(off, true)
		}
		return nil
	}}
	var body io.Reader
	if method != http.MethodHead {
		body = io.NewSectionReader(u.data, offset, end-offset)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, target, body)
	if err != nil {
		return state{}, err
	}
	if body != nil {
		req.ContentLength = end - offset
		if req.ContentLength == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header = h
	req.Header.Set("Upload-Draft-Interop-Version", strconv.Itoa(u.c.Version))
	client := u.c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	u.mu.Lock()
	ended = true
	u.mu.Unlock()
	if err != nil {
		return state{}, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return state{}, err
	}
	st := state{status: resp.StatusCode, offset: -1, header: resp.Header}
	if off, ok := sfInteger(resp.Header.Get("Upload-Offset")); ok {
		st.offset = off
	}
	if u.c.Version == 3 {
		// Version 3: complete unless Upload-Incomplete is true.
		st.complete = resp.Header.Get("Upload-Incomplete") != "?1"
	} else {
		st.complete = resp.Header.Get("Upload-Complete") == "?1"
	}
	name, _ := u.completeHeader(true)
	ok2xx := resp.StatusCode/100 == 2
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case method != http.MethodHead && ok2xx && resp.Header.Get(name) == "" && u.c.Version >= 7:
		u.violate("%s answered %d without %s", method, resp.StatusCode, name)
	case method != http.MethodHead && ok2xx && resp.Header.Get(name) == "":
		// Without a completeness header, a successful request that sent
		// the last byte completed the upload.
		st.complete = end == u.size
	case method == http.MethodHead && ok2xx && st.offset < 0:
		u.violate("HEAD answered %d without Upload-Offset", resp.StatusCode)
	}
	if st.offset >= 0 {
		u.sawOffset(st.offset, false)
	}
	if ok2xx && st.complete && st.offset >= 0 && st.offset != u.size {
		u.violate("%s says the upload is complete at offset %d, not %d", method, st.offset, u.size)
	}
	if loc := resp.Header.Get("Location"); creation && ok2xx && loc != "" && u.announced != "" && u.resolve(loc) != u.announced {
		u.violate("the creation's Location %q is not the 104's %q", loc, u.announced)
	}
	if u.violation != nil {
		return st, u.violation
	}
	return st, nil
}

// resolve resolves a Location against the creation target.
func (u *upload) resolve(loc string) string {
	if base, err := url.Parse(u.target); err == nil {
		if ref, err := url.Parse(loc); err == nil {
			return base.ResolveReference(ref).String()
		}
	}
	return loc
}

// setURL records the upload URL, resolved against the creation target.
func (u *upload) setURL(loc string) {
	loc = u.resolve(loc)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.url == "" {
		u.url = loc
	}
}

func sfBool(b bool) string {
	if b {
		return "?1"
	}
	return "?0"
}

// sfInteger parses a non-negative structured-field Integer, ignoring
// parameters.
func sfInteger(s string) (int64, bool) {
	s, _, _ = strings.Cut(s, ";")
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}
