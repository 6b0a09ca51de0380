// Package benchkit holds what the upload benchmarks of this module
// (cmd/tusbench) share: the
// deterministic bytes they upload and the check of what was stored, byte
// sizes on the command line, the child server process (started by the
// parent, serving until its stdin closes), its memory and CPU time from
// /proc, sync(2) between runs, and small helpers for statistics and
// reports.
//
// What a benchmark measures, its scenarios and its report layout stay in
// its own package.
package benchkit
