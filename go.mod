module github.com/tusgo/tus

go 1.24

require github.com/golang/mock v1.6.0

require (
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
