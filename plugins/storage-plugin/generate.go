package storageplugin

// The generated code is committed so builds never need protoc. To regenerate
// (protoc 3.21+, protoc-gen-go, protoc-gen-go-grpc on PATH):
//go:generate protoc --proto_path=proto --go_out=proto --go_opt=paths=source_relative --go-grpc_out=proto --go-grpc_opt=paths=source_relative storage/v1/storage.proto
