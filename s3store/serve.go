package s3store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// ServeContent streams the final object from S3. Range, If-Match,
// If-None-Match, If-Modified-Since and If-Unmodified-Since go to S3, which
// answers them; If-Range is checked against the object's ETag and
// Last-Modified first. An unfinished upload has no object yet: the handler
// refuses it before calling.
func (u *upload) ServeContent(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if u.corrupt != nil {
		return u.corrupt
	}
	if !u.done {
		return tus.ErrUploadNotFinished
	}
	in := &s3.GetObjectInput{Bucket: &u.s.opts.Bucket, Key: aws.String(u.s.objectKey(u.doc.ID))}
	h := r.Header
	if v := h.Get("Range"); v != "" {
		in.Range = aws.String(v)
		if ir := h.Get("If-Range"); ir != "" {
			ok, err := u.ifRangeMatches(ctx, ir)
			if err != nil {
				return err
			}
			if !ok {
				in.Range = nil
			}
		}
	}
	if v := h.Get("If-Match"); v != "" {
		in.IfMatch = aws.String(v)
	}
	if v := h.Get("If-None-Match"); v != "" {
		in.IfNoneMatch = aws.String(v)
	}
	if t, err := http.ParseTime(h.Get("If-Modified-Since")); err == nil {
		in.IfModifiedSince = aws.Time(t)
	}
	if t, err := http.ParseTime(h.Get("If-Unmodified-Since")); err == nil {
		in.IfUnmodifiedSince = aws.Time(t)
	}
	out, err := u.s.api.GetObject(ctx, in)
	if err != nil {
		switch st := httpStatus(err); {
		case st == http.StatusNotModified || st == http.StatusPreconditionFailed:
			w.WriteHeader(st)
			return nil
		case st == http.StatusRequestedRangeNotSatisfiable:
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(u.doc.Size, 10))
			http.Error(w, "requested range not satisfiable", st)
			return nil
		case isNotFound(err):
			return fmt.Errorf("s3store: object of %q: %w", u.doc.ID, tus.ErrNotFound)
		}
		return fmt.Errorf("s3store: reading object of %q: %w", u.doc.ID, err)
	}
	defer out.Body.Close()
	wh := w.Header()
	wh.Set("Accept-Ranges", "bytes")
	if out.ContentLength != nil {
		wh.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
	}
	if out.ETag != nil {
		wh.Set("ETag", *out.ETag)
	}
	if out.LastModified != nil {
		wh.Set("Last-Modified", out.LastModified.UTC().Format(http.TimeFormat))
	}
	status := http.StatusOK
	if out.ContentRange != nil {
		wh.Set("Content-Range", *out.ContentRange)
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err = io.Copy(w, out.Body)
	return err
}

// ifRangeMatches reports whether an If-Range value (an ETag or a date)
// matches the object, so that the range applies.
func (u *upload) ifRangeMatches(ctx context.Context, v string) (bool, error) {
	head, err := u.s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.s.opts.Bucket, Key: aws.String(u.s.objectKey(u.doc.ID))})
	if err != nil {
		return false, fmt.Errorf("s3store: looking up object of %q: %w", u.doc.ID, err)
	}
	if t, err := http.ParseTime(v); err == nil {
		return head.LastModified != nil && head.LastModified.Truncate(time.Second).Equal(t), nil
	}
	return len(v) > 2 && v[:2] != "W/" && aws.ToString(head.ETag) == v, nil
}
