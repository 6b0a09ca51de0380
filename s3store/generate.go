package s3store

//go:generate mockgen -source=s3api.go -destination=mock_s3api_test.go -package=s3store_test
