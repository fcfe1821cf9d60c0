package prommetrics

//go:generate go run capsgen.go
