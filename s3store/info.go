package s3store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tusgo/tus"
)

// infoDoc is the JSON of an upload's info object: the tus FileInfo (without
// Offset, which comes from the parts and tail objects) and what the store
// needs to find the bytes again.
type infoDoc struct {
	tus.FileInfo
	// MultipartUploadID is the S3 multipart upload that collects the parts.
	MultipartUploadID string `json:"MultipartUploadID"`
	// Parts fixes the size of every part.
	Parts schedule `json:"Parts"`
	// Terminated marks an upload whose termination has begun: it is gone
	// for every request, and whoever finds it finishes the deletion.
	Terminated bool `json:"Terminated,omitempty"`
}

// storageType is FileInfo.Storage["Type"] for uploads of this store.
const storageType = "s3store"

// infoKey returns the key of the info object of id.
func (s *Store) infoKey(id string) string { return s.opts.InfoPrefix + id + ".info" }

// objectKey returns the key of the final object of id.
func (s *Store) objectKey(id string) string { return s.opts.ObjectPrefix + id }

// sidePrefix is the prefix of the tail objects of id (and of its info object
// when both prefixes are the same). IDs have no '.', so the prefix of one
// upload never matches another's keys.
func (s *Store) sidePrefix(id string) string { return s.opts.ObjectPrefix + id + "." }

// putInfo writes the info object and returns its ETag. With create, it
// fails with tus.ErrUploadExists if the object exists (a conditional write;
// services without conditional writes get a lookup first).
func (s *Store) putInfo(ctx context.Context, doc *infoDoc, create bool) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("s3store: encoding info of %q: %w", doc.ID, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.opts.Bucket,
		Key:           aws.String(s.infoKey(doc.ID)),
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
		ContentType:   aws.String("application/json"),
	}
	if create {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.api.PutObject(ctx, in)
	if create && err != nil && isNotImplemented(err) {
		_, herr := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.opts.Bucket, Key: in.Key})
		switch {
		case herr == nil:
			return "", fmt.Errorf("s3store: %q: %w", doc.ID, tus.ErrUploadExists)
		case !isNotFound(herr):
			return "", fmt.Errorf("s3store: looking up info of %q: %w", doc.ID, herr)
		}
		in.IfNoneMatch = nil
		in.Body = bytes.NewReader(b)
		out, err = s.api.PutObject(ctx, in)
	}
	if create && err != nil && isPreconditionFailed(err) {
		return "", fmt.Errorf("s3store: %q: %w", doc.ID, tus.ErrUploadExists)
	}
	if err != nil {
		return "", fmt.Errorf("s3store: writing info of %q: %w", doc.ID, err)
	}
	return aws.ToString(out.ETag), nil
}

// getInfo reads the info object of id and returns it with its ETag. A missing
// object is tus.ErrNotFound.
func (s *Store) getInfo(ctx context.Context, id string) (*infoDoc, string, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.opts.Bucket, Key: aws.String(s.infoKey(id))})
	if err != nil {
		if isNotFound(err) {
			return nil, "", fmt.Errorf("s3store: info of %q: %w", id, tus.ErrNotFound)
		}
		return nil, "", fmt.Errorf("s3store: reading info of %q: %w", id, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 16<<20))
	if err != nil {
		return nil, "", fmt.Errorf("s3store: reading info of %q: %w", id, err)
	}
	doc := new(infoDoc)
	if err := json.Unmarshal(b, doc); err != nil {
		return nil, "", corrupt(id, fmt.Sprintf("not valid JSON (%d bytes): %v", len(b), err))
	}
	if problem := doc.invalid(id); problem != "" {
		return nil, "", corrupt(id, problem)
	}
	return doc, aws.ToString(out.ETag), nil
}

// corrupt returns the error of an upload whose info object is damaged.
func corrupt(id, problem string) error {
	return fmt.Errorf("s3store: info object of %q is damaged: %s: %w", id, problem, tus.ErrCorruptUpload)
}

// invalid says what is wrong with an info document read for id, or "".
func (d *infoDoc) invalid(id string) string {
	switch {
	case d.ID != id:
		return fmt.Sprintf("its ID is %q", d.ID)
	case d.MultipartUploadID == "":
		return "it names no multipart upload"
	case d.Parts.Base <= 0 || d.Parts.Block < 0:
		return fmt.Sprintf("invalid part schedule %+v", d.Parts)
	case d.Size < 0:
		return fmt.Sprintf("negative size %d", d.Size)
	case d.IsFinal && d.IsPartial:
		return "both partial and final"
	}
	return ""
}

// MaxObjectMetadata is the budget, in bytes, of the user metadata the
// store puts on an upload's S3 object. S3 allows 2 KB: AWS counts the
// bytes of every key and value, MinIO every header, "x-amz-meta-" prefix
// included; the store counts as MinIO does (see objectMetadata).
const MaxObjectMetadata = 2000

// metaPrefix is the prefix of user metadata headers.
const metaPrefix = "x-amz-meta-"

// objectMetadata returns the S3 user metadata for tus metadata: what fits
// of it, since S3 refuses more than 2 KB (MetadataTooLarge) and every pair
// is a request header. The info object keeps every pair exactly; the
// object gets, in this order, "filename", "filetype", then the other keys
// in byte order, each pair that still fits within MaxObjectMetadata bytes
// (counting "x-amz-meta-", the key and the encoded value of each), the
// others left out. Keys are lowercased (S3
// does so); keys that are not HTTP tokens, and a key equal to an earlier
// one but for case, are left out. Values that are not plain printable
// ASCII are sent as RFC 2047 encoded-words ("=?utf-8?b?...?="), which
// DecodeMetadata reverses.
func objectMetadata(md tus.MetaData) map[string]string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "filename":
			return 0
		case "filetype":
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make(map[string]string, len(md))
	left := MaxObjectMetadata
	for _, k := range keys {
		if !isToken(k) {
			continue
		}
		v := md[k]
		if !isPlainHeaderValue(v) {
			// mime.BEncoding leaves "=?…?=" as it is: encode by hand.
			v = "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
		}
		lk := strings.ToLower(k)
		size := len(metaPrefix) + len(lk) + len(v)
		if _, dup := out[lk]; dup || size > left {
			continue
		}
		out[lk] = v
		left -= size
	}
	return out
}

// DecodeMetadata returns S3 user metadata as the strings that were stored:
// RFC 2047 encoded-words, which this store writes for non-ASCII values and
// which some services (MinIO) answer with for raw UTF-8, are decoded; other
// values are returned as they are.
func DecodeMetadata(md map[string]string) map[string]string {
	out := make(map[string]string, len(md))
	dec := new(mime.WordDecoder)
	for k, v := range md {
		if strings.Contains(v, "=?") {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
		}
		out[k] = v
	}
	return out
}

// isPlainHeaderValue reports whether v can be sent as a header value as it
// is and read back unchanged.
func isPlainHeaderValue(v string) bool {
	if strings.Contains(v, "=?") || strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether k is a non-empty HTTP token (RFC 9110).
func isToken(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// contentType returns the object's Content-Type from the filetype metadata
// if it is a valid media type.
func contentType(md tus.MetaData) string {
	if ft := md["filetype"]; ft != "" && isPlainHeaderValue(ft) {
		if _, _, err := mime.ParseMediaType(ft); err == nil {
			return ft
		}
	}
	return "application/octet-stream"
}
