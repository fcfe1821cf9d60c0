module github.com/ankurah/ankurah-go/plugins/storage-bolt/cmd/ankurah-storage-bolt

go 1.25.8

require (
	github.com/ankurah/ankurah-go/conformance v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/core v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-bolt v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-plugin v0.0.0-00010101000000-000000000000
)

require (
	cel.dev/cel-go v0.33.2 // indirect
	cel.dev/expr v0.25.2 // indirect
	github.com/antlr4-go/antlr/v4 v4.13.1 // indirect
	github.com/fatih/color v1.13.0 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/hashicorp/go-hclog v1.6.3 // indirect
	github.com/hashicorp/go-plugin v1.8.0 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.17 // indirect
	github.com/oklog/run v1.1.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/exp v0.0.0-20240823005443-9b4947da3948 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/grpc v1.84.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/ankurah/ankurah-go/conformance => ../../../../conformance
	github.com/ankurah/ankurah-go/core => ../../../../core
	github.com/ankurah/ankurah-go/plugins/storage-bolt => ../..
	github.com/ankurah/ankurah-go/plugins/storage-plugin => ../../../storage-plugin
)
