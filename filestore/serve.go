package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"

	"github.com/tusgo/tus"
)

// ServeContent writes the upload's bytes to w with http.ServeContent, which
// answers Range, If-Range, If-Modified-Since, If-None-Match and the other
// conditional headers of r, and sets Content-Length, Content-Range and
// Last-Modified (the data file's modification time). Unless w already has
// an ETag, it sets a strong one made of the file's size and modification
// time. It relies on the Content-Type the handler has set.
//
// It fails, before writing anything, with an error wrapping tus.ErrNotFound
// if the data file is gone and with one wrapping tus.ErrCorruptUpload if
// the upload's record is damaged. Errors writing to w are not reported: the
// response is under way by then.
func (u *upload) ServeContent(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if u.corrupt != nil {
		return fmt.Errorf("filestore: serve %q: %w", u.info.ID, u.corrupt)
	}
	f, err := openFile(u.dataPath, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("filestore: serve %q: %w", u.info.ID, tus.ErrNotFound)
		}
		return fmt.Errorf("filestore: serve %q: open data file: %w", u.info.ID, err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("filestore: serve %q: %w", u.info.ID, err)
	}
	if w.Header().Get("Etag") == "" {
		w.Header().Set("Etag", etag(fi))
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// etag returns a strong entity tag for the file described by fi. A finished
// upload is never modified, so size and modification time identify its
// content.
func etag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size(), 36) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + `"`
}
