package s3store

// SetListPageSize sets the page size of the listings of ListUploads,
// Usage and RemoveLeftovers, so that tests cross pages with few uploads.
func SetListPageSize(s *Store, n int32) { s.listPage = n }
