module github.com/ankurah/ankurah-go/plugins/datatype-text

go 1.25.8

require github.com/ankurah/ankurah-go/core v0.0.0-00010101000000-000000000000

replace github.com/ankurah/ankurah-go/core => ../../core

require github.com/ankurah/ankurah-go/conformance v0.0.0-00010101000000-000000000000

replace github.com/ankurah/ankurah-go/conformance => ../../conformance
