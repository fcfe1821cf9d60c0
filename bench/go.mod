module github.com/ankurah/ankurah-go/bench

go 1.25.8

require (
	github.com/ankurah/ankurah-go/core v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/datatype-text v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-bolt v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-postgres v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/transport-ws v0.0.0-00010101000000-000000000000
	github.com/coder/websocket v1.8.15
	github.com/jackc/pgx/v5 v5.12.0
	go.etcd.io/bbolt v1.5.0
)

require (
	cel.dev/cel-go v0.33.2 // indirect
	cel.dev/expr v0.25.1 // indirect
	github.com/antlr4-go/antlr/v4 v4.13.1 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	golang.org/x/exp v0.0.0-20240823005443-9b4947da3948 // indirect
	golang.org/x/sys v0.45.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20240826202546-f6391c0de4c7 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240826202546-f6391c0de4c7 // indirect
	google.golang.org/protobuf v1.36.10 // indirect
)

replace (
	github.com/ankurah/ankurah-go/conformance => ../conformance
	github.com/ankurah/ankurah-go/core => ../core
	github.com/ankurah/ankurah-go/plugins/datatype-text => ../plugins/datatype-text
	github.com/ankurah/ankurah-go/plugins/storage-bolt => ../plugins/storage-bolt
	github.com/ankurah/ankurah-go/plugins/storage-postgres => ../plugins/storage-postgres
	github.com/ankurah/ankurah-go/plugins/transport-ws => ../plugins/transport-ws
)
