package storageplugin

// The generated code is committed so builds never need protoc. To regenerate
// (protoc 3.21+, e.g. Debian's protobuf-compiler; `go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
// google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2`; both on PATH):
//go:generate protoc --proto_path=proto --go_out=proto --go_opt=paths=source_relative --go-grpc_out=proto --go-grpc_opt=paths=source_relative storage/v1/storage.proto storage/v2/storage.proto
//go:generate go run capsgen.go
