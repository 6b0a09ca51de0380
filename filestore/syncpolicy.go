package filestore

import "fmt"

// SyncPolicy says when a FileStore forces what it wrote to the disk with
// fsync(2). The zero value is SyncFinish.
type SyncPolicy int

const (
	// SyncFinish, the default, makes an upload durable before FinishUpload
	// returns: the data file and the info file are fdatasynced (content and
	// size) and the directory is fsynced, the last by an fsync that started
	// after FinishUpload was called, which uploads finishing at the same time
	// share (group commit). DeclareLength likewise syncs the new info file
	// and the directory before it returns. The handler completes an upload,
	// and answers the request that completed it, only after that, so the
	// bytes and the record of an upload acknowledged as complete survive a
	// power loss or a kernel crash. Nothing else is synced: a creation
	// (without the whole body) and the bytes of an unfinished upload may be
	// lost by a power loss, so its offset may then be lower than the last
	// one acknowledged, and the client resumes from there, or the upload
	// may be gone (404), and the client creates it again; no byte of an
	// upload acknowledged as complete is lost.
	SyncFinish SyncPolicy = iota
	// SyncNone never fsyncs. Uploads survive a crash of the process, whose
	// writes the kernel already holds, but a power loss or a kernel crash
	// may lose or truncate uploads that were acknowledged as complete,
	// including their info files. Use it only where that is acceptable,
	// or where the storage is volatile anyway (tmpfs).
	SyncNone
)

// String returns the policy's name as ParseSyncPolicy takes it: "finish" or
// "none".
func (p SyncPolicy) String() string {
	switch p {
	case SyncFinish:
		return "finish"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy returns the policy named s, "finish" or "none".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "finish":
		return SyncFinish, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("filestore: unknown sync policy %q (want finish or none)", s)
}

// MarshalText implements encoding.TextMarshaler with the policy's name.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if p != SyncFinish && p != SyncNone {
		return nil, fmt.Errorf("filestore: unknown sync policy %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseSyncPolicy,
// so a policy can be a flag.TextVar.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseSyncPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
