// Package memstore is a tus store that keeps uploads in memory, with every
// optional part of a composition a store can have but finish reports and
// leftover removal: termination, concatenation, deferred lengths,
// downloads, usage reports, listing and expiry extension.
//
// It serves two purposes. It is the tutorial of package storetest: a
// complete custom store in a few hundred lines that passes the conformance
// and protocol suites (its tests show the harness). And it is a store for
// the unit tests of code built on package tus, where a real handler is
// wanted without a directory or a bucket:
//
//	composer := tus.NewStoreComposer()
//	memstore.New().UseIn(composer)
//	memorylocker.New().UseIn(composer)
//	handler, err := tus.NewHandler(tus.Config{StoreComposer: composer})
//
// Everything is lost when the process ends and nothing bounds the memory
// it takes, so it is no store for production.
package memstore
