package tus

//go:generate mockgen -source=datastore.go -destination=mock_datastore_test.go -package=tus_test
