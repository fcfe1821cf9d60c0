module github.com/ankurah/ankurah-go/plugins/datatype-text

go 1.25.8

require github.com/ankurah/ankurah-go/core v0.0.0-00010101000000-000000000000

replace github.com/ankurah/ankurah-go/core => ../../core

require github.com/ankurah/ankurah-go/conformance v0.0.0-00010101000000-000000000000

require (
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/x448/float16 v0.8.4 // indirect
)

replace github.com/ankurah/ankurah-go/conformance => ../../conformance
