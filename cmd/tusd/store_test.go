package main

import (
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tusgo/tus"
	"github.com/tusgo/tus/filestore"
)

// TestUseDirClosesLocker checks that closing the disk store also closes
// its file locker, whose goroutine must not outlive tusd's run.
func TestUseDirClosesLocker(t *testing.T) {
	composer := tus.NewStoreComposer()
	_, closeStore, err := useDir(composer, t.TempDir(), filestore.SyncFinish, false)
	require.NoError(t, err)
	require.True(t, composer.UsesLocker())
	id, err := tus.NewID()
	require.NoError(t, err)
	k, err := composer.Locker.NewLock(id)
	require.NoError(t, err)
	require.NoError(t, k.Lock(context.Background(), nil))
	require.NoError(t, k.Unlock())

	require.NoError(t, closeStore())
	require.ErrorIs(t, k.Lock(context.Background(), nil), fs.ErrClosed)
}
