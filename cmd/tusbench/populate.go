package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
	"github.com/tusgo/tus/internal/benchkit"
)

// populatedSize is the size of every upload the scale workload puts into a
// store beforehand.
const populatedSize = 1 << 10

// populate writes n finished uploads of populatedSize bytes into dir in the
// on-disk format of server kind, without the server: ours through
// filestore's own API (without fsync, then one syncfs), the others as the
// files their stores keep. It returns the IDs of the first few, for a check
// that the server reads them.
func populate(ctx context.Context, kind, dir string, n int, gen *benchkit.Generator) ([]string, error) {
	data := make([]byte, populatedSize)
	gen.Fill(data, 0)
	var store *filestore.FileStore
	if kind == kindOurs {
		var err error
		if store, err = filestore.NewWithOptions(dir, filestore.Options{NoSync: true}); err != nil {
			return nil, err
		}
	}
	ids := make([]string, n)
	created := time.Now().UTC()
	err := parallel(ctx, n, 8, func(ctx context.Context, i int) error {
		id := randomID()
		ids[i] = id
		switch kind {
		case kindOurs:
			return populateOurs(ctx, store, id, data)
		case kindRaw:
			return os.WriteFile(filepath.Join(dir, id), data, 0o640)
		case kindTusd:
			// tusd v2's filestore: the data file <id> and <id>.info, the
			// JSON of its FileInfo.
			path := filepath.Join(dir, id)
			info := map[string]any{
				"ID": id, "Size": populatedSize, "SizeIsDeferred": false, "Offset": 0,
				"MetaData": map[string]string{}, "IsPartial": false, "IsFinal": false, "PartialUploads": nil,
				"Storage": map[string]string{"Type": "filestore", "Path": path, "InfoPath": path + ".info"},
			}
			return writeFiles(path, data, path+".info", info)
		case kindNode:
			// @tus/file-store: the data file <id> and <id>.json, the JSON
			// of its Upload.
			path := filepath.Join(dir, id)
			info := map[string]any{
				"id": id, "size": populatedSize, "offset": 0, "metadata": map[string]string{},
				"creation_date": created.Format(time.RFC3339Nano),
			}
			return writeFiles(path, data, path+".json", info)
		}
		return fmt.Errorf("no on-disk format for %s", kind)
	})
	if err != nil {
		return nil, fmt.Errorf("populating the store of %s: %w", kind, err)
	}
	if err := syncFS(dir); err != nil {
		return nil, err
	}
	return ids[:min(n, 10)], nil
}

// populateOurs creates one finished upload through the store's API.
func populateOurs(ctx context.Context, store *filestore.FileStore, id string, data []byte) error {
	up, err := store.NewUpload(ctx, tus.FileInfo{ID: id, Size: int64(len(data)), MetaData: tus.MetaData{}})
	if err != nil {
		return err
	}
	if _, err := up.WriteChunk(ctx, 0, bytesReader(data)); err != nil {
		return err
	}
	return up.FinishUpload(ctx)
}

// writeFiles writes a data file and an info file holding info as JSON.
func writeFiles(dataPath string, data []byte, infoPath string, info any) error {
	raw, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dataPath, data, 0o640); err != nil {
		return err
	}
	return os.WriteFile(infoPath, raw, 0o640)
}

// randomID returns 32 hex digits, as every server here makes its IDs.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
