module github.com/ankurah/ankurah-go/cmd/ankurah

go 1.25.8

require (
	github.com/andybalholm/brotli v1.3.0
	github.com/ankurah/ankurah-go/core v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/datatype-text v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/metrics-prometheus v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/policy-rules v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-bolt v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-plugin v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-postgres v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/storage-tikv v0.0.0-00010101000000-000000000000
	github.com/ankurah/ankurah-go/plugins/transport-ws v0.0.0-00010101000000-000000000000
	github.com/golang-jwt/jwt/v5 v5.3.1
	go.etcd.io/bbolt v1.5.0
)

require (
	cel.dev/cel-go v0.33.2 // indirect
	cel.dev/expr v0.25.2 // indirect
	github.com/VividCortex/ewma v1.2.0 // indirect
	github.com/antlr4-go/antlr/v4 v4.13.1 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cloudfoundry/gosigar v1.3.6 // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/coreos/go-semver v0.3.1 // indirect
	github.com/coreos/go-systemd/v22 v22.5.0 // indirect
	github.com/dgryski/go-farm v0.0.0-20240924180020-3414d57e47da // indirect
	github.com/docker/go-units v0.5.0 // indirect
	github.com/fatih/color v1.13.0 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/google/btree v1.1.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grpc-ecosystem/go-grpc-middleware v1.1.0 // indirect
	github.com/hashicorp/go-hclog v1.6.3 // indirect
	github.com/hashicorp/go-plugin v1.8.0 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.17 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/oklog/run v1.1.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/opentracing/opentracing-go v1.2.0 // indirect
	github.com/pingcap/errors v0.11.5-0.20241219054535-6b8c588c3122 // indirect
	github.com/pingcap/failpoint v0.0.0-20240528011301-b51a646c7c86 // indirect
	github.com/pingcap/kvproto v0.0.0-20260331120830-0d407c8b3f6e // indirect
	github.com/pingcap/log v1.1.1-0.20221110025148-ca232912c9f3 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/prometheus/client_golang v1.20.5 // indirect
	github.com/prometheus/client_model v0.6.1 // indirect
	github.com/prometheus/common v0.55.0 // indirect
	github.com/prometheus/procfs v0.15.1 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/tiancaiamao/gp v0.0.0-20221230034425-4025bc8a4d4a // indirect
	github.com/tikv/client-go/v2 v2.0.8-0.20260403030309-a888f4238c9b // indirect
	github.com/tikv/pd/client v0.0.0-20260401072359-048f0d8f6f71 // indirect
	github.com/twmb/murmur3 v1.1.3 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.etcd.io/etcd/api/v3 v3.5.10 // indirect
	go.etcd.io/etcd/client/pkg/v3 v3.5.10 // indirect
	go.etcd.io/etcd/client/v3 v3.5.10 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/exp v0.0.0-20240823005443-9b4947da3948 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260706201446-f0a921348800 // indirect
	google.golang.org/grpc v1.84.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
)

replace (
	github.com/ankurah/ankurah-go/conformance => ../../conformance
	github.com/ankurah/ankurah-go/core => ../../core
	github.com/ankurah/ankurah-go/plugins/datatype-text => ../../plugins/datatype-text
	github.com/ankurah/ankurah-go/plugins/metrics-prometheus => ../../plugins/metrics-prometheus
	github.com/ankurah/ankurah-go/plugins/policy-rules => ../../plugins/policy-rules
	github.com/ankurah/ankurah-go/plugins/storage-bolt => ../../plugins/storage-bolt
	github.com/ankurah/ankurah-go/plugins/storage-plugin => ../../plugins/storage-plugin
	github.com/ankurah/ankurah-go/plugins/storage-postgres => ../../plugins/storage-postgres
	github.com/ankurah/ankurah-go/plugins/storage-tikv => ../../plugins/storage-tikv
	github.com/ankurah/ankurah-go/plugins/transport-ws => ../../plugins/transport-ws
)
